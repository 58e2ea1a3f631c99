"""faster-whisper's batched pipeline on each channel of stereo recordings,
for the throughput bench (benches/throughput.rs runs this in its own venv,
one process, and measures its wall time, CPU time and peak memory from
outside).

    fw_run.py --model CT2_DIR --threads N [--batch 8] [--beam 5]
              [--compute-type int8] [--language auto|xx] FILE[=LANG] ...

Each FILE is decoded with faster-whisper's own `decode_audio(...,
split_stereo=True)` and each channel goes through
`BatchedInferencePipeline.transcribe` (Silero VAD, batched decoding), the
way its README runs it. A `=LANG` suffix gives that file's language when
`--language given`. Prints one JSON object on stdout:

    {"model_load_s": .., "transcribe_s": .., "versions": {..},
     "files": [{"path": .., "seconds": .., "channels":
                [{"language": .., "text": ..}, ..]}]}

`transcribe_s` covers decoding, VAD and transcription of every file, not
the imports or the model load (reported apart as `model_load_s`).
"""

import argparse
import importlib.metadata as metadata
import json
import os
import sys
import time

# A local CTranslate2 directory needs no hub; make sure nothing tries one.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="CTranslate2 model directory")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--compute-type", default="int8")
    ap.add_argument("--language", default="auto", help="auto, or given (per FILE=LANG)")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    from faster_whisper import BatchedInferencePipeline, WhisperModel, decode_audio

    t0 = time.perf_counter()
    model = WhisperModel(
        args.model,
        device="cpu",
        compute_type=args.compute_type,
        cpu_threads=args.threads,
        num_workers=1,
        local_files_only=True,
    )
    pipeline = BatchedInferencePipeline(model)
    load_s = time.perf_counter() - t0

    results = []
    t_all = time.perf_counter()
    for spec in args.files:
        path, _, lang = spec.partition("=")
        language = lang if args.language == "given" and lang else None
        t_file = time.perf_counter()
        audio = decode_audio(path, sampling_rate=16000, split_stereo=True)
        channels = []
        for samples in audio:
            segments, info = pipeline.transcribe(
                samples,
                language=language,
                batch_size=args.batch,
                beam_size=args.beam,
            )
            # `segments` is a generator: the work happens while it is drained.
            text = " ".join(s.text.strip() for s in segments if s.text.strip())
            channels.append({"language": info.language, "text": text})
        results.append(
            {"path": path, "seconds": time.perf_counter() - t_file, "channels": channels}
        )
    transcribe_s = time.perf_counter() - t_all

    versions = {
        p: metadata.version(p) for p in ("faster-whisper", "ctranslate2", "onnxruntime", "av")
    }
    json.dump(
        {
            "model_load_s": load_s,
            "transcribe_s": transcribe_s,
            "versions": versions,
            "files": results,
        },
        sys.stdout,
        ensure_ascii=False,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
