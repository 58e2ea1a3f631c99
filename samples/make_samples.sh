#!/usr/bin/env bash
# Makes the synthetic call recordings in samples/: stereo 8 kHz G.711 µ-law
# WAV as a PBX writes them, channel 0 = agent, channel 1 = customer, turns
# alternating with silences between them. Each call also gets a .txt with its
# script and the time of each turn. Needs espeak-ng (voices en-us, pl, ru, he)
# and sox. The output is deterministic: no dither, no random noise.
#
#   samples/make_samples.sh          # rewrite every call
#   samples/make_samples.sh en-support   # only call-en-support.*
set -euo pipefail
cd "$(dirname "$0")"

for tool in espeak-ng sox soxi; do
  command -v "$tool" >/dev/null || { echo "make_samples.sh: $tool is not installed" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

RATE=8000
GAP=0.5     # silence between turns, seconds
LEAD=0.3    # silence before the first turn and after the last

# silence SECONDS OUT: mono 16-bit 8 kHz silence.
silence() { sox -n -r "$RATE" -c 1 -b 16 "$2" trim 0 "$1"; }

# make_call NAME LANG AGENT_VOICE CUSTOMER_VOICE SCRIPT_LINES...
# Each script line is "agent: text" or "customer: text".
make_call() {
  local name="$1" lang="$2" agent_voice="$3" customer_voice="$4"
  shift 4
  local dir="$work/$name" i=0 t
  mkdir -p "$dir"
  local agent_parts=() customer_parts=()
  local txt="call-$name.txt"
  {
    echo "# Synthetic call, made by samples/make_samples.sh with espeak-ng ($lang) and sox."
    echo "# call-$name.wav: stereo 8 kHz G.711 mu-law; channel 0 = agent, channel 1 = customer."
    echo "# [start-end seconds] speaker: words"
  } >"$txt"

  silence "$LEAD" "$dir/lead.wav"
  agent_parts+=("$dir/lead.wav")
  customer_parts+=("$dir/lead.wav")
  t="$(awk -v a="$LEAD" 'BEGIN { printf "%.2f", a }')"
  silence "$GAP" "$dir/gap.wav"

  for line in "$@"; do
    i=$((i + 1))
    local who="${line%%:*}" text="${line#*: }" voice
    case "$who" in
      agent) voice="$agent_voice" ;;
      customer) voice="$customer_voice" ;;
      *) echo "make_samples.sh: bad script line: $line" >&2; exit 1 ;;
    esac
    # espeak-ng speaks at 22.05 kHz; resample to telephone rate and band
    # (300-3400 Hz) so it sounds like it came through a PBX.
    espeak-ng -v "$voice" -s 170 -w "$dir/raw$i.wav" "$text"
    sox -D "$dir/raw$i.wav" -r "$RATE" -c 1 -b 16 "$dir/turn$i.wav" \
      gain -6 highpass 300 lowpass 3400 norm -3
    local dur
    dur="$(soxi -D "$dir/turn$i.wav")"
    silence "$dur" "$dir/quiet$i.wav"
    if [ "$i" -gt 1 ]; then
      agent_parts+=("$dir/gap.wav")
      customer_parts+=("$dir/gap.wav")
      t="$(awk -v a="$t" -v b="$GAP" 'BEGIN { printf "%.2f", a + b }')"
    fi
    local end
    end="$(awk -v a="$t" -v b="$dur" 'BEGIN { printf "%.2f", a + b }')"
    printf '[%s-%s] %s: %s\n' "$t" "$end" "$who" "$text" >>"$txt"
    t="$end"
    if [ "$who" = agent ]; then
      agent_parts+=("$dir/turn$i.wav")
      customer_parts+=("$dir/quiet$i.wav")
    else
      agent_parts+=("$dir/quiet$i.wav")
      customer_parts+=("$dir/turn$i.wav")
    fi
  done
  agent_parts+=("$dir/lead.wav")
  customer_parts+=("$dir/lead.wav")

  sox -D "${agent_parts[@]}" "$dir/agent.wav"
  sox -D "${customer_parts[@]}" "$dir/customer.wav"
  # -M merges the two mono files into one stereo file, channel order as given.
  sox -D -M "$dir/agent.wav" "$dir/customer.wav" -r "$RATE" -e u-law -b 8 "call-$name.wav"
  echo "call-$name.wav: $(soxi -D "call-$name.wav") s, $(wc -c <"call-$name.wav") bytes"
}

only=("$@")
wants() { [ ${#only[@]} -eq 0 ] && return 0; local n; for n in "${only[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }

if wants en-support; then
  make_call en-support en-us en-us+m3 en-us+f3 \
    "agent: Northwind support, Dana speaking, how can I help?" \
    "customer: My internet keeps dropping every evening." \
    "agent: Sorry about that. What is your account number?" \
    "customer: Four seven two nine. I'll call you from my personal mobile."
fi

if wants pl-sales; then
  make_call pl-sales pl pl+m3 pl+f3 \
    "agent: Dzień dobry, mówi Anna z Telkomu. Mamy dla pana nową ofertę." \
    "customer: Nie teraz, jestem w pracy." \
    "agent: Trzy miesiące światłowodu za darmo." \
    "customer: Dobrze, zadzwonię z prywatnej komórki po szesnastej."
fi

if wants ru-bank; then
  make_call ru-bank ru ru+m3 ru+f3 \
    "agent: Служба безопасности банка. Мы видим подозрительный перевод." \
    "customer: Какой перевод? Я ничего не отправлял." \
    "agent: Назовите, пожалуйста, код из смс." \
    "customer: Нет, это не телефонный разговор."
fi

if wants he-delivery; then
  make_call he-delivery he he+m3 he+f3 \
    "agent: שלום, מדברים משירות המשלוחים. יש לנו חבילה בשבילך." \
    "customer: מצוין, מתי היא תגיע?" \
    "agent: מחר בין עשר לשתיים. מישהו יהיה בבית?" \
    "customer: כן, אני אהיה בבית. תודה רבה."
fi
