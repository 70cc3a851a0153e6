"""Live action recognition with this bundle (no actionrec install needed).

pip install -r requirements.txt
python live.py --source 0                   # webcam
python live.py --source clip.avi --headless # a video file, JSON lines on stdout
"""

import sys
from pathlib import Path

BUNDLE = Path(__file__).resolve().parent
sys.path.insert(0, str(BUNDLE))  # the vendored actionrec, before any installed one
sys.dont_write_bytecode = True  # no __pycache__ in the bundle (a DVC output)

from actionrec.serving.live import main  # noqa: E402

if __name__ == "__main__":
    argv = sys.argv[1:]
    if not any(a == "--bundle" or a.startswith("--bundle=") for a in argv):
        argv = ["--bundle", str(BUNDLE), *argv]
    sys.exit(main(argv))
