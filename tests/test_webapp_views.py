"""The app's HTML pieces: everything from a trainee or a persona file is shown as text."""
from rjcoach.webapp import chat_text, gauge, highlight, is_loopback


def test_chat_text_escapes_markup():
    assert chat_text("<script>x</script> & <b>hi</b>") == "&lt;script&gt;x&lt;/script&gt; &amp; &lt;b&gt;hi&lt;/b&gt;"


def test_highlight_marks_spans_by_family_and_escapes_the_rest():
    text = "Why did you <i>do</i> it?"
    out = highlight(text, [{"label": "why_question", "start": 0, "end": 11}])
    assert out.startswith('<mark class="rj-accusatory"') and "Why did you</mark>" in out
    assert "&lt;i&gt;do&lt;/i&gt;" in out and "<i>" not in out


def test_overlapping_spans_keep_the_first():
    out = highlight("abcdef", [{"label": "reflection", "start": 0, "end": 4}, {"label": "summary", "start": 2, "end": 6}])
    assert out.count("<mark") == 1


def test_gauge_bands():
    assert "(good)" in gauge("x", 0.8, 0.5, 0.7, 1.0, str)
    assert "(fair)" in gauge("x", 0.6, 0.5, 0.7, 1.0, str)
    assert "(below)" in gauge("x", 0.1, 0.5, 0.7, 1.0, str)
    assert "n/a" in gauge("x", None, 0.5, 0.7, 1.0, str)


def test_loopback_detection():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
