"""Batched LAPACK calls split across threads: the same bits as the unsplit call."""
import numpy
import pytest

from gluon_mvr.methods import lapack_threads
from gluon_mvr.methods.lapack_threads import MAX_SIDE, MIN_WORK_PER_THREAD_US, batched, estimated_work_us, thread_budget

pytest.importorskip("threadpoolctl")


@pytest.fixture
def two_threads(monkeypatch):
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert thread_budget() == 2


def _stack(shape, seed=0):
    return numpy.random.default_rng(seed).standard_normal(shape)


def _lead_that_splits(m, n, extra=()):
    """Leading batch axes with just enough matrices for a two-way split."""
    count = int(2 * MIN_WORK_PER_THREAD_US // estimated_work_us((1, m, n))) + 1
    return (count,) + extra if not extra else (count // int(numpy.prod(extra)) + 1,) + extra


@pytest.mark.parametrize("extra", [(), (4,), (3, 2)])
@pytest.mark.parametrize("m,n", [(8, 8), (32, 32), (40, 17), (17, 40)])
def test_split_equals_unsplit_bit_for_bit(two_threads, extra, m, n):
    A = _stack(_lead_that_splits(m, n, extra) + (m, n))
    assert lapack_threads._n_threads(A) == 2
    G = A @ numpy.swapaxes(A, -1, -2)
    for fn, X, kw in [(numpy.linalg.eigh, G, {}), (numpy.linalg.eigvalsh, G, {}),
                      (numpy.linalg.svd, A, {"full_matrices": False}),
                      (numpy.linalg.svd, A, {"full_matrices": False, "compute_uv": False})]:
        ref, got = fn(X, **kw), batched(fn, X, **kw)
        assert type(got) is type(ref)
        for r, g in zip(ref if isinstance(ref, tuple) else [ref], got if isinstance(got, tuple) else [got]):
            assert g.shape == r.shape and numpy.array_equal(g, r)


def test_when_it_does_not_split(two_threads, monkeypatch):
    few = _lead_that_splits(8, 8)[0] // 3
    assert lapack_threads._n_threads(_stack((few, 8, 8))) == 1                    # too little work
    assert lapack_threads._n_threads(_stack((256, MAX_SIDE + 1, 4))) == 1         # too large
    assert lapack_threads._n_threads(_stack((40, 40))) == 1                        # not a batch
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert lapack_threads._n_threads(_stack((1024, 32, 32))) == 1                  # budget of one


def test_budget_follows_the_blas_environment(monkeypatch):
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    assert thread_budget() >= 1
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    assert thread_budget() == 3
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "5")     # the first one set wins, in this order
    assert thread_budget() == 5
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "garbage")
    assert thread_budget() == 3


def test_a_non_finite_matrix_raises_as_unsplit(two_threads):
    G = _stack(_lead_that_splits(6, 6) + (6, 6))
    G[37, 2, 2] = numpy.nan
    with pytest.raises(numpy.linalg.LinAlgError):
        numpy.linalg.eigh(G)
    with pytest.raises(numpy.linalg.LinAlgError):
        batched(numpy.linalg.eigh, G)


def test_batched_run_still_equals_single_runs(two_threads):
    """The property the split must keep: a batch of seeds reproduces single-seed runs bit for bit
    (here with enough matrices per iteration to split)."""
    from gluon_mvr import methods
    from gluon_mvr.problems import get_problem
    problem = get_problem("quadratic", layers=4, dim=32)
    seeds = list(range(10))                      # 40 matrices of 32x32 per call: split over 2 threads
    assert lapack_threads._n_threads(_stack((len(seeds), 4, 32, 32))) == 2
    batch = methods.run(problem, "mvr1", K=15, seeds=seeds)
    for j, s in enumerate(seeds[:3]):
        single = methods.run(problem, "mvr1", K=15, seeds=[s])
        assert numpy.array_equal(batch.values[j], single.values[0])
        assert numpy.array_equal(batch.grad_norms[j], single.grad_norms[0])


def _worker_budget(_):
    from gluon_mvr.methods.lapack_threads import thread_budget
    return thread_budget()


def test_process_executor_workers_get_their_share_of_the_cores():
    """joblib (the processes executor) sets the BLAS variables in its workers to their share of
    the cores; the split follows them, so workers x threads never exceeds the cores."""
    import os
    from joblib import Parallel, delayed
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    budgets = Parallel(n_jobs=2)(delayed(_worker_budget)(i) for i in range(2))
    assert all(b == max(1, cores // 2) for b in budgets), budgets


def _blas_threads():
    from threadpoolctl import threadpool_info
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_overlapping_split_calls_restore_the_blas_threads(two_threads):
    """Split calls from several threads at once: while any runs, BLAS is held at one thread;
    after the last one the original setting is back (not left at one)."""
    from concurrent.futures import ThreadPoolExecutor
    before = _blas_threads()
    G = _stack(_lead_that_splits(32, 32) + (32, 32))
    G = G @ numpy.swapaxes(G, -1, -2)
    ref = numpy.linalg.eigvalsh(G)
    with ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(lambda _: batched(numpy.linalg.eigvalsh, G), range(16)))
    assert all(numpy.array_equal(o, ref) for o in outs)
    assert _blas_threads() == before


def _split_in_child(queue):
    G = _stack(_lead_that_splits(32, 32) + (32, 32))
    queue.put(numpy.array_equal(batched(numpy.linalg.svd, G, compute_uv=False),
                                numpy.linalg.svd(G, compute_uv=False)))


def test_a_forked_child_can_split_after_the_parent_did(two_threads):
    """The pool's threads do not survive fork(): the child must build its own, not hang."""
    import multiprocessing
    G = _stack(_lead_that_splits(32, 32) + (32, 32))
    batched(numpy.linalg.svd, G, compute_uv=False)          # the parent's pool exists now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_split_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung and queue.get(timeout=5) is True
