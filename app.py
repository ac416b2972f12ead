"""rjcoach practice app: `python app.py` serves it on 127.0.0.1:7860.

Settings: RJCOACH_HOST, RJCOACH_PORT, RJCOACH_DATABASE_URL, RJCOACH_DATA_DIR, RJCOACH_LLM_URL (see README).
"""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rjcoach.webapp import serve  # noqa: E402

if __name__ == "__main__":
    serve(os.environ.get("RJCOACH_HOST", "127.0.0.1"), int(os.environ.get("RJCOACH_PORT", "7860")))
