"""The GIL is released while C++ works: other Python threads make progress."""

import sys
import threading
import time

import numpy as np
import pytest

import encore
from conftest import make_user_items


@pytest.fixture
def no_forced_switches():
    # With a huge switch interval, a thread holding the GIL keeps it until it
    # releases it itself, so the counter below can only advance while the
    # main thread is inside encore with the GIL released (or blocks in Python).
    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    yield
    sys.setswitchinterval(old)


def run_with_counter(work):
    """Runs work(mark) while another thread counts; mark() records the count."""
    counter = [0]
    stop = threading.Event()
    started = threading.Event()

    def count():
        started.set()
        while not stop.is_set():
            counter[0] += 1
            time.sleep(0)  # releases the GIL, so the main thread can take it back

    marks = []
    thread = threading.Thread(target=count)
    thread.start()
    started.wait()
    try:
        work(lambda *args: marks.append(counter[0]))
    finally:
        stop.set()
        thread.join()
    return marks


def test_second_thread_progresses_during_fit(no_forced_switches):
    data = make_user_items(users=2000, items=400, per_user=30, seed=1)
    model = encore.IALS(factors=32, iterations=6, seed=1, threads=1)
    marks = run_with_counter(
        lambda mark: model.fit(data, show_progress=False, callback=mark))
    # One mark per iteration; between the first and the last, five iterations
    # of C++ ran with the GIL released and the counter thread ran meanwhile.
    assert len(marks) == 6
    assert marks[-1] > marks[0], marks


def test_second_thread_progresses_during_batch_recommend(no_forced_switches):
    data = make_user_items(users=2000, items=400, per_user=30, seed=1)
    model = encore.IALS(factors=32, iterations=2, seed=1, threads=1).fit(data, show_progress=False)
    users = np.arange(2000)

    def work(mark):
        mark()
        for _ in range(5):
            model.recommend(users, data, N=50)
        mark()
    marks = run_with_counter(work)
    assert marks[1] > marks[0], marks


def test_concurrent_queries_agree(fitted, user_items):
    expected = fitted.recommend(np.arange(50), user_items[:50], N=10)
    results = [None] * 4

    def query(k):
        results[k] = fitted.recommend(np.arange(50), user_items[:50], N=10)
    threads = [threading.Thread(target=query, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for ids, scores in results:
        np.testing.assert_array_equal(ids, expected[0])
        np.testing.assert_array_equal(scores, expected[1])
