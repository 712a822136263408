import threading
import time

import numpy as np
import pytest

import mpsnn

Status = mpsnn.CommandBufferStatus


def test_buffers_run_in_commit_order_on_a_worker_thread(queue):
    seen = []
    buffers = []
    for i in range(20):
        buffer = queue.make_command_buffer()
        buffer.encode_host_function(lambda i=i: seen.append((i, threading.get_ident())))
        buffer.commit()
        buffers.append(buffer)
    for buffer in buffers:
        buffer.wait_until_completed()
        assert buffer.status == Status.completed and buffer.error is None
    assert [i for i, _ in seen] == list(range(20))
    assert threading.get_ident() not in {t for _, t in seen}


def test_status_moves_from_not_enqueued_to_completed(queue):
    buffer = queue.make_command_buffer()
    assert buffer.status == Status.not_enqueued
    release = threading.Event()
    buffer.encode_host_function(release.wait)
    buffer.commit()
    assert buffer.status in (Status.committed, Status.scheduled)
    release.set()
    buffer.wait_until_completed()
    assert buffer.status == Status.completed


def test_commit_does_not_block_and_wait_releases_the_gil(queue):
    started, release = threading.Event(), threading.Event()
    buffer = queue.make_command_buffer()
    buffer.encode_host_function(lambda: (started.set(), release.wait(5)))
    t0 = time.perf_counter()
    buffer.commit()
    assert time.perf_counter() - t0 < 0.5
    assert started.wait(5)
    # Another Python thread must run while this one waits.
    threading.Timer(0.05, release.set).start()
    buffer.wait_until_completed()
    assert release.is_set()


def test_exception_in_a_buffer_surfaces_on_wait_and_in_error(queue):
    ran_after = []
    failing = queue.make_command_buffer()
    failing.encode_host_function(lambda: 1 / 0)
    failing.encode_host_function(lambda: ran_after.append("skipped?"))
    failing.commit()
    with pytest.raises(ZeroDivisionError):
        failing.wait_until_completed()
    with pytest.raises(ZeroDivisionError):  # every wait raises it again
        failing.wait_until_completed()
    assert failing.status == Status.error
    assert "division" in failing.error
    assert ran_after == []  # the rest of the failed buffer is skipped
    # The queue keeps working.
    ok = queue.make_command_buffer()
    ok.encode_host_function(lambda: ran_after.append("next buffer"))
    ok.commit()
    ok.wait_until_completed()
    assert ran_after == ["next buffer"] and ok.status == Status.completed


def test_completed_handlers_run_in_order_after_the_work(queue):
    events = []
    buffer = queue.make_command_buffer()
    buffer.encode_host_function(lambda: events.append("work"))
    buffer.add_completed_handler(lambda cb: events.append(("first", cb.status)))
    buffer.add_completed_handler(lambda cb: events.append(("second", cb.status)))
    buffer.commit()
    buffer.wait_until_completed()  # handlers have run when wait returns
    assert events == ["work", ("first", Status.completed), ("second", Status.completed)]


def test_completed_handler_sees_the_error(queue):
    seen = []
    buffer = queue.make_command_buffer()
    buffer.encode_host_function(lambda: (_ for _ in ()).throw(KeyError("boom")))
    buffer.add_completed_handler(lambda cb: seen.append((cb.status, cb.error)))
    buffer.commit()
    with pytest.raises(KeyError):
        buffer.wait_until_completed()
    assert seen[0][0] == Status.error and "boom" in seen[0][1]


def test_a_raising_handler_is_reported_and_does_not_stop_the_queue(queue, monkeypatch):
    reported = []
    monkeypatch.setattr("sys.unraisablehook", lambda info: reported.append(info.exc_type))
    buffer = queue.make_command_buffer()
    buffer.add_completed_handler(lambda cb: 1 / 0)
    buffer.commit()
    buffer.wait_until_completed()  # the handler's error is not the buffer's
    assert buffer.status == Status.completed
    assert reported == [ZeroDivisionError]
    after = queue.make_command_buffer()
    after.commit()
    after.wait_until_completed()


def test_double_buffered_training_loop(queue, cpu, rng):
    """Seed 002's loop: at most two buffers in flight, released by handlers."""
    semaphore = threading.Semaphore(2)
    in_flight, peak = [0], [0]
    lock = threading.Lock()
    a = rng.standard_normal((64, 64), dtype=np.float32)
    left = mpsnn.Matrix.from_numpy(cpu, a)
    results = [mpsnn.Matrix(cpu, 64, 64) for _ in range(2)]
    product = mpsnn.MatrixMultiplication(cpu, 64, 64, 64)

    def done(cb):
        with lock:
            in_flight[0] -= 1
        semaphore.release()

    last = None
    for step in range(30):
        semaphore.acquire()
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        buffer = queue.make_command_buffer()
        product.encode(buffer, left, left, results[step % 2])
        buffer.add_completed_handler(done)
        buffer.commit()
        last = buffer
    last.wait_until_completed()
    assert peak[0] <= 2
    np.testing.assert_allclose(np.asarray(results[1]), a @ a, rtol=1e-4, atol=1e-4)


def test_wait_on_a_never_committed_buffer_raises(queue):
    with pytest.raises(RuntimeError, match="never committed"):
        queue.make_command_buffer().wait_until_completed()


def test_commit_twice_raises(queue):
    buffer = queue.make_command_buffer()
    buffer.commit()
    with pytest.raises(RuntimeError, match="already committed"):
        buffer.commit()
    buffer.wait_until_completed()


def test_encoding_or_adding_handlers_after_commit_raises(queue, cpu):
    buffer = queue.make_command_buffer()
    buffer.commit()
    with pytest.raises(RuntimeError, match="already committed"):
        buffer.add_completed_handler(lambda cb: None)
    with pytest.raises(RuntimeError, match="already committed"):
        buffer.encode_host_function(lambda: None)
    m = mpsnn.Matrix(cpu, 2, 2)
    with pytest.raises(ValueError, match="command_buffer was already committed"):
        mpsnn.MatrixMultiplication(cpu, 2, 2, 2).encode(buffer, m, m, mpsnn.Matrix(cpu, 2, 2))
    buffer.wait_until_completed()


def test_wait_inside_a_handler_of_the_same_queue_raises_instead_of_hanging(queue):
    later = queue.make_command_buffer()
    caught = []

    def handler(cb):
        try:
            later.wait_until_completed()
        except RuntimeError as e:
            caught.append(str(e))

    first = queue.make_command_buffer()
    first.add_completed_handler(handler)
    first.commit()
    later.commit()
    later.wait_until_completed()
    first.wait_until_completed()
    assert caught and "would never return" in caught[0]


def test_handler_and_function_arguments_must_be_callable(queue):
    buffer = queue.make_command_buffer()
    with pytest.raises(TypeError):
        buffer.add_completed_handler(42)
    with pytest.raises(TypeError):
        buffer.encode_host_function(None)


def test_dropping_the_queue_with_work_in_flight_finishes_the_work(cpu):
    done = threading.Event()
    queue = mpsnn.CommandQueue(cpu)
    buffer = queue.make_command_buffer()
    buffer.encode_host_function(lambda: time.sleep(0.05))
    buffer.add_completed_handler(lambda cb: done.set())
    buffer.commit()
    del queue, buffer
    assert done.wait(5)
