#!/usr/bin/env bash
# Makes Caudal's committed sample media from ffmpeg's built-in (lavfi) test
# sources, so no external input is needed:
#
#   caudal-sample.mp4   fragmented MP4: H.264 main + AAC-LC stereo
#   caudal-sample.webm  WebM: VP9 + Opus, with Cues (the index) at the front
#
# Both: 20 s, 640x360, 25 fps, a keyframe every 2 s (50 frames), the same
# picture (testsrc2) and sound (a 440 Hz sine that beeps once a second).
#
# Usage: www/media/make-samples.sh [OUTPUT_DIR]   (default: this script's folder)
# Needs: ffmpeg with libx264, libvpx-vp9 and libopus (Debian's ffmpeg has them).
#
# Determinism: single-threaded encoders and bitexact muxing (no encoder
# version strings, no random UIDs, no creation times), so one ffmpeg build
# gives byte-identical files on every run. Other ffmpeg/x264/libvpx versions
# give equivalent but not byte-identical files.
set -euo pipefail

out="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
mkdir -p "$out"
ffmpeg="${FFMPEG:-ffmpeg}"

duration=20 # seconds
fps=25
gop=$((2 * fps)) # a keyframe every 2 s

common_in=(
  -hide_banner -nostdin -loglevel error -y
  # testsrc2: moving colour pattern with a frame/time counter; lavfi is
  # ffmpeg's filter graph used as an input device (no input file).
  -f lavfi -i "testsrc2=size=640x360:rate=${fps}:duration=${duration}"
  # sine: a 440 Hz tone, 48 kHz (Opus' native rate, fine for AAC too);
  # beep_factor=2 adds an 880 Hz beep every second, handy to hear A/V sync.
  -f lavfi -i "sine=frequency=440:beep_factor=2:sample_rate=48000:duration=${duration}"
  -map 0:v:0 -map 1:a:0
  -ac 2                # mono sine -> stereo
  -pix_fmt yuv420p     # 4:2:0, required by H.264 main profile and by browsers
  -g "$gop"            # max keyframe interval: 2 s
  -keyint_min "$gop"   # min keyframe interval: exactly every 2 s
  -threads 1           # single-threaded encoders: reproducible output
  -map_metadata -1     # no global metadata from the inputs
  -fflags +bitexact    # muxer: no version strings, no random UIDs, no dates
  -flags:v +bitexact   # video encoder: no version string in the stream
  -flags:a +bitexact   # audio encoder: same
  -t "$duration"
)

# (a) Fragmented MP4, H.264 + AAC.
mp4=(
  -c:v libx264
  -profile:v main -level:v 3.0     # H.264 main profile, level 3.0: avc1.4d401e
  -preset medium                   # x264's default speed/quality trade-off
  -b:v 500k                        # ~500 kbit/s average ...
  -maxrate 600k -bufsize 1000k     # ... with capped peaks
  -sc_threshold 0                  # no extra keyframes at scene cuts: fixed 2 s GOPs
  # No B-frames: presentation order = decode order, so video starts at t=0.
  # (With B-frames this ffmpeg starts video at 0.08 s: fragmented MP4 gets
  # no edit list to hide the composition delay.)
  -bf 0
  -c:a aac -b:a 96k                # FFmpeg's native AAC-LC encoder, 96 kbit/s
  # frag_keyframe: a new fragment (moof+mdat) at each video keyframe (2 s);
  # empty_moov: the moov comes first and holds no samples (all in fragments);
  # default_base_moof: data offsets relative to each moof, as MSE expects.
  -movflags +frag_keyframe+empty_moov+default_base_moof
  -f mp4
)
"$ffmpeg" "${common_in[@]}" "${mp4[@]}" "$out/caudal-sample.mp4"

# (b) WebM, VP9 + Opus, with Cues.
webm=(
  -c:v libvpx-vp9
  -b:v 400k                        # ~400 kbit/s target
  -deadline realtime -cpu-used 8   # libvpx's fastest mode: encodes in seconds
  -row-mt 0                        # no row multithreading: reproducible output
  -c:a libopus -b:a 64k            # Opus, 64 kbit/s stereo: plenty for a sine
  # Cues (the seek index) are always written; cues_to_front moves them before
  # the first Cluster, so a player gets the index with the first bytes.
  -cues_to_front 1
  -f webm
)
"$ffmpeg" "${common_in[@]}" "${webm[@]}" "$out/caudal-sample.webm"

ls -l "$out/caudal-sample.mp4" "$out/caudal-sample.webm"
