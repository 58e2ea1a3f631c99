#!/usr/bin/env bash
# Makes the sample call recordings in samples/: stereo 8 kHz G.711 µ-law WAV
# as a PBX writes them, channel 0 = agent, channel 1 = customer, turns
# alternating with silences between them. Each call also gets a .txt with its
# script and the time of each turn.
#
# The English and Russian calls are cut from human recordings: the Asterisk
# core prompts of Debian's asterisk-core-sounds-en-wav (Allison Smith) and
# asterisk-core-sounds-ru-wav (ivrvoice.ru). Each language has one voice, so
# the customer's turns are pitched down with sox to sound like someone else.
# The Polish and Hebrew calls are espeak-ng voices (no such package exists
# for them). The script installs what is missing with apt-get (sudo when not
# root). The output is deterministic: no dither, no random noise.
#
#   samples/make_samples.sh              # rewrite every call
#   samples/make_samples.sh en-support   # only call-en-support.*
set -euo pipefail
cd "$(dirname "$0")"

only=("$@")
wants() { [ ${#only[@]} -eq 0 ] && return 0; local n; for n in "${only[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }

# --- dependencies -----------------------------------------------------------

missing=()
command -v sox >/dev/null && command -v soxi >/dev/null || missing+=(sox)
if wants pl-sales || wants he-delivery; then
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
fi
for lang in en ru; do
  case "$lang" in en) call=en-support ;; ru) call=ru-bank ;; esac
  wants "$call" || continue
  # The -wav package has the recordings, its dependency the prompt texts.
  for pkg in "asterisk-core-sounds-$lang-wav" "asterisk-core-sounds-$lang"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "make_samples.sh: installing ${missing[*]}" >&2
  command -v apt-get >/dev/null || {
    echo "make_samples.sh: no apt-get here; install ${missing[*]} (Debian/Ubuntu package names) yourself" >&2
    exit 1
  }
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  # Fetch the package lists first when apt does not know the packages yet.
  if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

RATE=8000
GAP=0.5     # silence between turns, seconds
LEAD=0.3    # silence before the first turn and after the last
JOIN=0.2    # silence between two prompts spoken in one turn

# silence SECONDS OUT: mono 16-bit 8 kHz silence.
silence() { sox -D -n -r "$RATE" -c 1 -b 16 "$2" trim 0 "$1"; }

# --- Asterisk prompts -------------------------------------------------------

# prompt_dir LANG: the folder of the package's prompts, from the package's
# own file list (not the /usr/share/asterisk/sounds/LANG alternative, which
# another voice package may own).
prompt_dir() {
  local hello
  # (awk reads the whole list: grep -m1 would cut dpkg off, failing the pipe)
  hello="$(dpkg -L "asterisk-core-sounds-$1-wav" | awk '/\/hello\.wav$/ && !f { print; f = 1 } END { exit !f }')" || {
    echo "make_samples.sh: asterisk-core-sounds-$1-wav has no hello.wav" >&2
    exit 1
  }
  dirname "$hello"
}

# prompt_texts LANG: the package's list of prompt texts, "name: text" lines
# (core-sounds-LANG.txt, gzipped on Debian).
prompt_texts() {
  local f
  f="$(dpkg -L "asterisk-core-sounds-$1" "asterisk-core-sounds-$1-wav" 2>/dev/null |
    awk -v want="/core-sounds-$1.txt" '!f && (substr($0, length($0) - length(want) + 1) == want ||
      substr($0, length($0) - length(want) - 2) == want ".gz") { print; f = 1 } END { exit !f }')" || {
    echo "make_samples.sh: no core-sounds-$1.txt in asterisk-core-sounds-$1" >&2
    exit 1
  }
  echo "$f"
}

# prompt_text TEXTS_FILE NAME: the words of prompt NAME, blanks collapsed.
prompt_text() {
  local text
  text="$(zcat -f "$1" | awk -v n="$2" '
    !found && index($0, n ": ") == 1 {
      s = substr($0, length(n) + 3); sub(/\r$/, "", s)
      gsub(/[ \t]+/, " ", s); sub(/^ /, "", s); sub(/ $/, "", s)
      print s; found = 1
    }
    END { exit !found }')" || {
    echo "make_samples.sh: prompt $2 is not in $1" >&2
    exit 1
  }
  printf '%s' "$text"
}

# --- calls --------------------------------------------------------------------

# make_call NAME LANG AGENT_VOICE CUSTOMER_VOICE SCRIPT_LINES...
# Each script line is "agent: ..." or "customer: ...". A voice is either an
# espeak-ng voice (e.g. pl+m3), and the line has the words to speak, or
# "asterisk" optionally followed by ":" and sox effects for that speaker
# (e.g. "asterisk:pitch -300"), and the line names one or more Asterisk
# prompts of language LANG (e.g. "agent: hello vm-passchanged"), spoken one
# after the other; the script then has the prompts' texts from the package.
make_call() {
  local name="$1" lang="$2" agent_voice="$3" customer_voice="$4"
  shift 4
  local dir="$work/$name" i=0 t
  mkdir -p "$dir"
  local agent_parts=() customer_parts=() turns=()
  local txt="call-$name.txt" pdir="" ptexts="" header
  case "$agent_voice$customer_voice" in
    *asterisk*)
      pdir="$(prompt_dir "$lang")"
      ptexts="$(prompt_texts "$lang")"
      local pkg="asterisk-core-sounds-$lang-wav" who_spoke licence
      case "$lang" in
        en) who_spoke="Allison Smith" licence=CC-BY-SA-3.0 ;;
        ru) who_spoke="ivrvoice.ru (Maxim Topal)" licence=CC-BY-3.0 ;;
        *) who_spoke="see /usr/share/doc/$pkg/copyright" licence="see /usr/share/doc/$pkg/copyright" ;;
      esac
      header="# Call made by samples/make_samples.sh with sox from the Asterisk core prompts in $pkg $(dpkg-query -W -f='${Version}' "$pkg")
# (voice: $who_spoke; licence: $licence, see samples/README.md)."
      ;;
    *) header="# Synthetic call, made by samples/make_samples.sh with espeak-ng ($lang) and sox." ;;
  esac

  silence "$LEAD" "$dir/lead.wav"
  agent_parts+=("$dir/lead.wav")
  customer_parts+=("$dir/lead.wav")
  t="$(awk -v a="$LEAD" 'BEGIN { printf "%.2f", a }')"
  silence "$GAP" "$dir/gap.wav"
  silence "$JOIN" "$dir/join.wav"

  local lines=()
  for line in "$@"; do
    i=$((i + 1))
    local who="${line%%:*}" what="${line#*: }" voice text
    case "$who" in
      agent) voice="$agent_voice" ;;
      customer) voice="$customer_voice" ;;
      *) echo "make_samples.sh: bad script line: $line" >&2; exit 1 ;;
    esac
    case "$voice" in
      asterisk | asterisk:*)
        # The prompts are 8 kHz 16-bit mono already; join them with a short
        # pause and apply this speaker's effects.
        local fx=() pieces=() p words=()
        # Effects such as pitch change the rate inside sox's chain; rate
        # brings it back to 8 kHz before the telephone band filters.
        [ "$voice" = asterisk ] || { read -r -a fx <<<"${voice#asterisk:}"; fx+=(rate "$RATE"); }
        local k=0
        for p in $what; do
          [ -f "$pdir/$p.wav" ] || { echo "make_samples.sh: no prompt $pdir/$p.wav" >&2; exit 1; }
          k=$((k + 1))
          # Cut the silence the recording starts and ends with (up to 0.3 s
          # on the digits), so a dictated number is one stretch of speech.
          sox -D "$pdir/$p.wav" "$dir/piece$i-$k.wav" \
            silence 1 0.01 -55d reverse silence 1 0.01 -55d reverse
          [ ${#pieces[@]} -eq 0 ] || pieces+=("$dir/join.wav")
          pieces+=("$dir/piece$i-$k.wav")
          words+=("$(prompt_text "$ptexts" "$p")")
        done
        text="${words[*]}"
        turns+=("$who: $what")
        sox -D "${pieces[@]}" "$dir/raw$i.wav"
        sox -D "$dir/raw$i.wav" -r "$RATE" -c 1 -b 16 "$dir/turn$i.wav" \
          "${fx[@]}" highpass 300 lowpass 3400 norm -3
        ;;
      *)
        text="$what"
        # espeak-ng speaks at 22.05 kHz; resample to telephone rate and band
        # (300-3400 Hz) so it sounds like it came through a PBX.
        espeak-ng -v "$voice" -s 170 -w "$dir/raw$i.wav" "$text"
        sox -D "$dir/raw$i.wav" -r "$RATE" -c 1 -b 16 "$dir/turn$i.wav" \
          gain -6 highpass 300 lowpass 3400 norm -3
        ;;
    esac
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
    lines+=("$(printf '[%s-%s] %s: %s' "$t" "$end" "$who" "$text")")
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

  {
    echo "$header"
    echo "# call-$name.wav: stereo 8 kHz G.711 mu-law; channel 0 = agent, channel 1 = customer."
    if [ -n "$pdir" ]; then
      local afx="${agent_voice#asterisk}" cfx="${customer_voice#asterisk}"
      afx="${afx#:}" cfx="${cfx#:}"
      echo "# sox voice effects: agent ${afx:-none}, customer ${cfx:-none}."
      local joined
      joined="$(printf '%s; ' "${turns[@]}")"
      echo "# Prompt files, turn by turn: ${joined%; }"
    fi
    echo "# [start-end seconds] speaker: words"
    printf '%s\n' "${lines[@]}"
  } >"$txt"

  sox -D "${agent_parts[@]}" "$dir/agent.wav"
  sox -D "${customer_parts[@]}" "$dir/customer.wav"
  # -M merges the two mono files into one stereo file, channel order as given.
  sox -D -M "$dir/agent.wav" "$dir/customer.wav" -r "$RATE" -e u-law -b 8 "call-$name.wav"
  echo "call-$name.wav: $(soxi -D "call-$name.wav") s, $(wc -c <"call-$name.wav") bytes"
}

# Customer voice for the Asterisk calls: the same speaker as the agent, three
# semitones lower.
CUSTOMER_FX="pitch -300"

if wants en-support; then
  make_call en-support en asterisk "asterisk:$CUSTOMER_FX" \
    "agent: hello" \
    "customer: something-terribly-wrong tt-weasels" \
    "agent: sorry-youre-having-problems privacy-prompt" \
    "customer: digits/5 digits/5 digits/5 digits/0 digits/1 digits/9 digits/9" \
    "agent: privacy-incorrect agent-pass" \
    "customer: goodbye"
fi

if wants pl-sales; then
  make_call pl-sales pl pl+m3 pl+f3 \
    "agent: Dzień dobry, mówi Anna z Telkomu. Mamy dla pana nową ofertę." \
    "customer: Nie teraz, jestem w pracy." \
    "agent: Trzy miesiące światłowodu za darmo." \
    "customer: Dobrze, zadzwonię z prywatnej komórki po szesnastej."
fi

if wants ru-bank; then
  make_call ru-bank ru asterisk "asterisk:$CUSTOMER_FX" \
    "agent: hello" \
    "customer: something-terribly-wrong vm-passchanged" \
    "agent: sorry-youre-having-problems privacy-prompt" \
    "customer: digits/9 digits/1 digits/6 digits/5 digits/5 digits/5 digits/0" \
    "agent: privacy-incorrect agent-pass" \
    "customer: goodbye"
fi

if wants he-delivery; then
  make_call he-delivery he he+m3 he+f3 \
    "agent: שלום, מדברים משירות המשלוחים. יש לנו חבילה בשבילך." \
    "customer: מצוין, מתי היא תגיע?" \
    "agent: מחר בין עשר לשתיים. מישהו יהיה בבית?" \
    "customer: כן, אני אהיה בבית. תודה רבה."
fi
