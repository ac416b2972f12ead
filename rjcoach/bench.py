"""`rjcoach bench`: the analyser's speed and memory, beside a RoBERTa-base forward pass.

RoBERTa-base (the size of a published empathy classifier) is built from its default config with
random weights, so nothing is downloaded; its forward pass on the same token counts is measured in
the same process, on the same inputs, right after the analyser. Figures are printed, never asserted.
"""
from __future__ import annotations

import os
import statistics
import time

SAMPLES: list[tuple[str, str | None]] = [
    ("Why did you take it?", "I took the bike. I dunno."),
    ("So the bike was the one thing you'd bought with your own money.", "I saved for that bike for a year."),
    ("You sound worn out by all of this.", "I just want it over with. I haven't slept properly in weeks."),
    ("Mm-hmm. Go on.", "And then the lights in the back went on."),
    ("What do you think would help put this right?", None),
    ("I'm really sorry you went through that.", "They took my mum's ring. It's the only thing I had of hers."),
    ("You're a vandal and you always will be.", "It was just a tag, it's not that deep."),
    ("It's only a fence, relax.", "I can't stop thinking about it."),
    ("Please take a seat, the others will be here in a minute.", None),
    ("So far: the damage, the missed shifts, and not feeling safe walking home.",
     "The damage was bad, but missing shifts hurt more, and now I don't walk home alone."),
    ("Of course you're upset; most people would be. Who else has been affected by this?",
     "I'm still so angry about it, and my kids are scared to sleep upstairs."),
    ("Answer me or this gets worse for you.", "..."),
    ("You should put up a camera.", "I don't know what to do anymore."),
    ("Thanks, everyone, for making the time today. The room is ours until four.", None),
    ("uh so like what was going thru ur head when u saw the car was open", "Nothing really. Just bored."),
    ("It took real courage to come here and say that to her face.", "I'm sorry. I really am."),
]


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB, from /proc."""
    cur = peak = float("nan")
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except OSError:
        pass
    return cur, peak


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


def run_bench(n_single: int = 200, n_batch: int = 512, out=print) -> dict:
    import torch

    from rjcoach.analyzer import get_analyzer

    n_single = max(10, min(n_single, 5000))
    n_batch = max(32, min(n_batch, 20000))
    rss0, _ = _rss_mb()
    t0 = time.perf_counter()
    analyzer = get_analyzer()
    load_s = time.perf_counter() - t0
    for text, ctx in SAMPLES[:4]:  # warm-up
        analyzer.analyze(text, ctx)

    single = []
    for i in range(n_single):
        text, ctx = SAMPLES[i % len(SAMPLES)]
        t = time.perf_counter()
        analyzer.analyze(text, ctx)
        single.append((time.perf_counter() - t) * 1000)
    texts = [SAMPLES[i % len(SAMPLES)][0] for i in range(n_batch)]
    ctxs = [SAMPLES[i % len(SAMPLES)][1] for i in range(n_batch)]
    t = time.perf_counter()
    analyzer.analyze_many(texts, ctxs, batch_size=32)
    batch_tp = n_batch / (time.perf_counter() - t)
    rss_loaded, peak_loaded = _rss_mb()

    # Token counts of the same inputs, for the reference model.
    tok = analyzer.component.tokenizer
    lengths = [len(tok(t, c or "", truncation=True, max_length=128)["input_ids"]) for t, c in SAMPLES]

    from transformers import RobertaConfig, RobertaModel

    torch.manual_seed(0)
    from rjcoach.precision import dtype, precision

    # roberta-base shape, random weights, in the precision the analyser runs in (a fair reference)
    roberta = RobertaModel(RobertaConfig()).eval().to(dtype())
    vocab = roberta.config.vocab_size
    ref_single = []
    with torch.inference_mode():
        for i in range(min(n_single, 100)):
            n = lengths[i % len(lengths)]
            ids = torch.randint(5, vocab, (1, n))
            t = time.perf_counter()
            roberta(input_ids=ids, attention_mask=torch.ones_like(ids))
            ref_single.append((time.perf_counter() - t) * 1000)
        n_ref = min(n_batch, 256)
        ref_lengths = [lengths[i % len(lengths)] for i in range(n_ref)]
        t = time.perf_counter()
        for b in range(0, n_ref, 32):
            chunk = ref_lengths[b : b + 32]
            ids = torch.randint(5, vocab, (len(chunk), max(chunk)))
            mask = torch.zeros_like(ids)
            for j, n in enumerate(chunk):
                mask[j, :n] = 1
            roberta(input_ids=ids, attention_mask=mask)
        ref_tp = n_ref / (time.perf_counter() - t)

    res = {
        "threads": torch.get_num_threads(),
        "precision": precision(),
        "cpus": os.cpu_count(),
        "load_seconds": load_s,
        "analyser_single_p50_ms": statistics.median(single),
        "analyser_single_p95_ms": _percentile(single, 95),
        "roberta_single_p50_ms": statistics.median(ref_single),
        "roberta_single_p95_ms": _percentile(ref_single, 95),
        "analyser_batch_utt_per_s": batch_tp,
        "roberta_batch_utt_per_s": ref_tp,
        "rss_before_mb": rss0,
        "rss_analyser_loaded_mb": rss_loaded,
        "peak_rss_analyser_mb": peak_loaded,
    }
    ratio_single = res["analyser_single_p50_ms"] / res["roberta_single_p50_ms"]
    ratio_tp = batch_tp / ref_tp
    out(f"rjcoach bench  ({res['cpus']} CPUs, torch threads {res['threads']}, {res['precision']}; "
        f"{n_single} single calls, {n_batch} batched)")
    out(f"analyser load time             {load_s:8.2f} s")
    out(f"{'':30s} {'analyser':>10s} {'RoBERTa-base':>13s} {'ratio':>7s}  target")
    out(f"{'single utterance p50 (ms)':30s} {res['analyser_single_p50_ms']:10.2f} {res['roberta_single_p50_ms']:13.2f} {ratio_single:7.2f}  <= 0.50 {'ok' if ratio_single <= 0.5 else 'MISSED'}")
    out(f"{'single utterance p95 (ms)':30s} {res['analyser_single_p95_ms']:10.2f} {res['roberta_single_p95_ms']:13.2f}")
    out(f"{'batch throughput (utt/s)':30s} {batch_tp:10.1f} {ref_tp:13.1f} {ratio_tp:7.2f}  >= 4.00 {'ok' if ratio_tp >= 4 else 'MISSED'}")
    out(f"{'resident memory, analyser (MB)':30s} {rss_loaded:10.0f} {'':13s} {'':7s}  < 1200 {'ok' if rss_loaded < 1200 else 'MISSED'}  (peak {peak_loaded:.0f})")
    out("analyser = full analyze(): spaCy tokenise/tag/parse + rule cues + classifier + evidence;")
    out("RoBERTa-base = encoder forward only, same token counts, random weights from its config.")
    res["ratio_single"] = ratio_single
    res["ratio_batch"] = ratio_tp
    return res


TURN_SCRIPT = [
    "Hi, thanks for seeing me today.",
    "Can you tell me what happened?",
    "That sounds like a real shock.",
    "What has been the hardest part since?",
    "So it's the damage, the lost time, and not feeling safe.",
    "Who else has been affected by this?",
    "Why did you leave it like that?",
    "What would help put things right?",
]


OPENERS = ["", "Okay, ", "Right, ", "So, ", "Now, ", "Well, ", "Alright, ", "Um, ", "Uh, ", "And "]


def session_script(k: int, turns: int) -> list[str]:
    """Session ``k``'s messages: the script in its own words, still one sentence each (trainees
    never type identical lines, so no cache answers one session's message with another's work)."""
    opener = "again, " * (k // len(OPENERS)) + OPENERS[k % len(OPENERS)].lower()
    if not opener:
        return TURN_SCRIPT[:turns]
    opener = opener[0].upper() + opener[1:]
    return [opener + line[0].lower() + line[1:] for line in TURN_SCRIPT[:turns]]


class _TimedAnalyzer:
    """Wraps the analyser to record how long each call takes (for its share of a turn)."""

    def __init__(self, inner) -> None:
        import threading

        self.inner = inner
        self.times: list[float] = []
        self._lock = threading.Lock()

    def analyze(self, text, context=None):
        t = time.perf_counter()
        out = self.inner.analyze(text, context)
        with self._lock:
            self.times.append((time.perf_counter() - t) * 1000)
        return out

    def keep_contexts(self, contexts) -> int:  # a session start reads its persona's lines ahead
        return self.inner.keep_contexts(contexts)


def run_turn_bench(sessions: int = 10, turns: int = 8, out=print, think_ms: float = 1000.0, runs: int = 3) -> dict:
    """Server-side cost of a turn (analysis, coaching, persona reply, commit), single and concurrent.

    The multi-session modes run ``runs`` times, each from cold: the p95 of one run (80 turns for 10
    sessions) swings by a fifth between runs, so every run's p95 is printed and their median is
    what the goal is checked against."""
    import tempfile
    import threading

    from rjcoach.analyzer import get_analyzer
    from rjcoach.persona_loader import load_folder
    from rjcoach.session import PracticeSession
    from rjcoach.store import Store

    import torch

    from rjcoach.webapp import APP_TORCH_THREADS

    sessions = max(1, min(sessions, 50))
    turns = max(1, min(turns, len(TURN_SCRIPT)))
    runs = max(1, min(runs, 10))
    library = load_folder()
    res = {}
    threads_before = torch.get_num_threads()
    torch.set_num_threads(APP_TORCH_THREADS)  # as `rjcoach serve` runs
    from rjcoach import embeddings

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.sqlite3")
        uid = store.create_user("bench", "x", "trainee")
        from rjcoach.batching import BatchingAnalyzer

        batched = BatchingAnalyzer(get_analyzer())  # what the app uses
        people = list(library.scenarios["graffiti_bakery"].roster)
        import random

        def one_run(n: int, think: float):
            batched.inner.component.forget_contexts()  # each run starts cold: no persona line read yet,
            embeddings._cache.clear()  # no message embedded yet
            timed = _TimedAnalyzer(batched)
            started = time.perf_counter()  # as in the app, a session start reads its persona's lines ahead
            prepared = [PracticeSession.start(store, library, uid, "graffiti_bakery", people[i % len(people)].persona,
                                              seed=i, analyzer=timed) for i in range(n)]
            start_ms = (time.perf_counter() - started) * 1000
            latencies: list[float] = []
            lock = threading.Lock()

            def run(sess):
                rng = random.Random(sess.row.seed)
                for line in session_script(sess.row.seed, turns):
                    if think:  # a trainee reads the reply and types: 0.5x to 1.5x the think time
                        time.sleep(think / 1000 * rng.uniform(0.5, 1.5))
                    t = time.perf_counter()
                    sess.turn(line)
                    with lock:
                        latencies.append((time.perf_counter() - t) * 1000)

            threads = [threading.Thread(target=run, args=(s,)) for s in prepared]
            wall = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join(timeout=600)
            return latencies, timed.times, time.perf_counter() - wall, start_ms

        modes = (("single", 1, 0.0, 1), ("concurrent", sessions, 0.0, runs), ("paced", sessions, think_ms, runs))
        for mode, n, think, repeat in modes:
            done = [one_run(n, think) for _ in range(repeat)]
            latencies = [x for d in done for x in d[0]]
            analyser = [x for d in done for x in d[1]]
            p95_runs = [_percentile(d[0], 95) for d in done]
            res[mode] = {
                "sessions": n,
                "runs": repeat,
                "turns": len(latencies),
                "p50_ms": statistics.median(latencies),
                "p95_ms": statistics.median(p95_runs),
                "p95_runs_ms": p95_runs,
                "max_ms": max(latencies),
                "analyser_p50_ms": statistics.median(analyser),
                "analyser_share": sum(analyser) / max(sum(latencies), 1e-9),
                "turns_per_s": len(latencies) / sum(d[2] for d in done),
                "start_ms": done[0][3],
            }
        # A facilitated conference, one session: every message is heard by four people, and the
        # apology invitation and agreement items are matched as well as the topics.
        from rjcoach.group_session import GroupSession

        timed = _TimedAnalyzer(batched)
        group = GroupSession.start(store, library, uid, "graffiti_bakery_conference", seed=1, analyzer=timed)
        latencies = []
        batched.inner.component.forget_contexts()
        embeddings._cache.clear()
        for line in TURN_SCRIPT[:turns]:
            t = time.perf_counter()
            group.turn(line)
            latencies.append((time.perf_counter() - t) * 1000)
        res["group"] = {"sessions": 1, "turns": len(latencies), "p50_ms": statistics.median(latencies),
                        "p95_ms": _percentile(latencies, 95), "max_ms": max(latencies),
                        "analyser_p50_ms": statistics.median(timed.times),
                        "analyser_share": sum(timed.times) / max(sum(latencies), 1e-9),
                        "turns_per_s": len(latencies) / (sum(latencies) / 1000)}
    torch.set_num_threads(threads_before)
    from rjcoach.precision import precision

    out(f"\nturn cost, server side (analysis + coaching + persona reply + SQLite commit), embedded engine,")
    out(f"as in `rjcoach serve`: torch threads {APP_TORCH_THREADS}, {batched.workers} analyser batch "
        f"worker{'s' if batched.workers > 1 else ''} with a {batched.window_ms:g} ms window, encoders in {precision()};")
    out(f"'concurrent' sends the next message as soon as a reply arrives (no reading or typing time);")
    out(f"'paced' gives each trainee {think_ms / 1000:g} s (0.5x to 1.5x) between messages; each session words")
    out("the script its own way. Each mode starts with nothing read: starting its sessions (not timed) reads")
    out(f"their personas' lines ahead, as a session start does in the app ({res['concurrent']['start_ms']:.0f} ms for "
        f"{res['concurrent']['sessions']} sessions, {len(people)} personas).")
    out(f"The multi-session modes run {runs} times, each from cold; their p95 is the median of the runs' p95s")
    out("(each run's is listed below). The analyser share includes the message's topic embedding, which the")
    out("analyser's batch finishes from the analysis's own lower layers:")
    out(f"{'':26s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s} {'turns/s':>8s} {'analyser share':>15s}")
    for mode, r in res.items():
        label = f"{mode} ({r['sessions']} session{'s' if r['sessions'] > 1 else ''})"
        if mode == "paced":
            label = f"paced ({r['sessions']} sessions)"
        if mode == "group":
            label = "conference (1 session)"
        out(f"{label:26s} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {r['max_ms']:8.1f} {r['turns_per_s']:8.1f} {r['analyser_share'] * 100:14.0f}%")
    for mode in ("concurrent", "paced"):
        goal = res[mode]["p95_ms"]
        each = ", ".join(f"{x:.1f}" for x in res[mode]["p95_runs_ms"])
        out(f"goal p95 < 150 ms at {sessions} sessions, {mode}: {'ok' if goal < 150 else 'MISSED'} "
            f"(median of {res[mode]['runs']} runs {goal:.1f} ms; each run: {each})")
    return res
