"""The dataset analyses on Ray: ``vw.metrics.dataset_cka(m, data, engine="ray")``.

:class:`RayEngine` runs the accumulators of :mod:`vitwidgets.core.streaming` on Ray Data: a
pool of actors (``ray.data.ActorPoolStrategy``), each holding the model once (one GPU each
when the cluster has GPUs, else CPU threads), maps over the batches with ``map_batches`` and
returns one accumulator state per batch; the driver merges the states in batch order with the
accumulators' ``merge``, which repeats ``update``'s arithmetic, so the result is bitwise the
single-process one for the same batches. Ray Data does the batching, scheduling and
backpressure; a worker that dies has its batch retried on a restarted actor
(``max_retries``), and when retries run out the run fails with the missing batch indices
(:class:`~vitwidgets.engines.errors.MissingBatchesError`) instead of returning a partial
result.

The data, as for the single-process path:

- a ``ray.data.Dataset`` (e.g. ``ray.data.read_images(folder)``; rows with an ``"image"``
  column, optional ``"label"`` and ``"masks"`` columns): read in its row order, cut into
  blocks of ``batch_size`` consecutive rows (``repartition(target_num_rows_per_block=...,
  strict=True)``) that the workers read and decode themselves;
- a map-style torch ``Dataset``: shipped to each worker once (keep it light: paths, not
  pixels); the workers load batch ``k`` (samples ``k*batch_size ..``) themselves;
- an ``[N, 3, H, W]`` tensor or any other iterable of batches (a DataLoader, a list): cut or
  iterated here, each batch shipped through Ray's object store (a worker holds one at a
  time).

    import ray
    ray.init(address="auto")                  # an existing cluster (or nothing: a local Ray)
    cka = vw.metrics.dataset_cka(m, ray.data.read_images(folder), engine="ray")
    engine = RayEngine(num_workers=8)         # or say how many workers, GPUs, threads
    stats = vw.metrics.dataset_head_stats(m, data, engine=engine)
"""

from __future__ import annotations

import io
import math
import os
import resource
import socket
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import torch

from vitwidgets.core.model import ViTModel
from vitwidgets.core.streaming import (
    Job,
    batch_from_columns,
    dataset_batch,
    is_ray_dataset,
    iter_batches,
    ordered_ray_dataset,
    trace_batch,
    update_all,
)
from vitwidgets.engines.errors import EngineUnavailableError, MissingBatchesError, spans

__all__ = ["RayEngine", "RunInfo", "require_ray"]

_INSTALL = "pip install 'vitwidgets[ray]'"
_BATCH, _PAYLOAD = "vw_batch", "vw_payload"


def require_ray() -> Any:
    """The ``ray`` module with Ray Data, or a clear error naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data needs pyarrow and pandas: the [data] extra)
    except ImportError as e:
        raise EngineUnavailableError(
            f"engine='ray' needs Ray with Ray Data, which is not installed ({e}): {_INSTALL}"
        ) from None
    return ray


def _dumps(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def batch_payload(batch: Any) -> bytes:
    """One batch serialised for the object store. Its tensors are copied first: a batch cut
    from a bigger tensor is a view, and ``torch.save`` of a view writes the whole storage
    under it (every batch of a 1,024-image tensor would carry all 1,024 images)."""
    compact = {f.name: getattr(batch, f.name) for f in fields(batch)}
    compact = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in compact.items()}
    return _dumps(replace(batch, **compact))


def _loads(blob: bytes, device: str | torch.device = "cpu") -> Any:
    return torch.load(io.BytesIO(blob), map_location=device, weights_only=False)


def _check_reachable(address: str | None, timeout_s: float) -> None:
    """Raise ``ConnectionError`` when ``address`` (``host:port`` or ``ray://host:port``) takes
    no TCP connection within ``timeout_s``; ``None`` and ``"auto"`` are left to ``ray.init``."""
    if not address or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"a Ray address is 'auto', 'host:port' or 'ray://host:port'; got "
                         f"{address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise ConnectionError(f"no answer from {host}:{port} ({e})") from None


def _memory() -> tuple[int, int]:
    """This process's ``(peak resident, private now)`` bytes: ``getrusage``'s peak (KiB on
    Linux; it counts the pages of Ray's shared object store that the process touched) and
    psutil's USS (the memory only this process holds; -1 without psutil)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        import psutil

        private = int(psutil.Process().memory_full_info().uss)
    except (ImportError, OSError, AttributeError):
        private = -1
    return peak, private


@dataclass
class _ModelSpec:
    """A :class:`ViTModel` as a worker rebuilds it: the timm module's pickle (weights
    included), its name and metadata."""

    module: bytes
    name: str
    metadata: dict

    @classmethod
    def of(cls, model: Any) -> _ModelSpec:
        if not isinstance(model, ViTModel):
            raise TypeError(
                "engine='ray' needs a ViTModel (vw.load_model(...)) to send to its workers; "
                f"got {type(model).__name__}"
            )
        return cls(_dumps(model.model), model.name, dict(model.metadata))

    def load(self, device: torch.device) -> ViTModel:
        return ViTModel(_loads(self.module, device), self.name, device, self.metadata)


class _Worker:
    """A Ray actor of the pool: loads the model(s) once, then turns each batch into
    ``{vw_batch, state, rows, pid, memory, began, ended}`` (the state: the accumulators of that
    one batch, serialised; ``memory``: :func:`_memory` once the model was loaded and after
    this batch; the wall-clock times of the batch)."""

    def __init__(self, model, model_b, template, source, batch_size, preprocessed, kw, threads):
        torch.set_num_threads(threads)
        gpu = torch.cuda.is_available() and os.environ.get("CUDA_VISIBLE_DEVICES", "") != ""
        device = torch.device("cuda" if gpu else "cpu")
        self.model = model.load(device)
        self.model_b = None if model_b is None else model_b.load(device)
        self.template, self.source, self.batch_size = template, source, batch_size
        self.preprocessed, self.kw = preprocessed, kw
        self.loaded = _memory()

    def _batch(self, columns: dict) -> tuple[int, Any]:
        if _BATCH not in columns:  # rows of the user's Ray Dataset
            return -1, batch_from_columns(columns, self.preprocessed)
        k = int(columns[_BATCH][0])
        if _PAYLOAD in columns:
            return k, _loads(columns[_PAYLOAD][0])
        return k, dataset_batch(self.source, k, self.batch_size)

    def __call__(self, columns: dict) -> dict:
        began = time.time()
        k, batch = self._batch(columns)
        parts = _loads(self.template)
        trace = trace_batch(self.model, batch, self.preprocessed, self.kw)
        other = None
        if self.model_b is not None:
            other = trace_batch(self.model_b, batch, self.preprocessed, self.kw)
        update_all(parts, trace, batch, other)
        del trace, other
        return {_BATCH: np.array([k]), "state": np.array([_dumps(parts)], dtype=object),
                "rows": np.array([len(batch.images)]), "pid": np.array([os.getpid()]),
                "memory": np.array([[*self.loaded, *_memory()]]),
                "began": np.array([began]), "ended": np.array([time.time()])}


@dataclass
class _Plan:
    """What the workers map over: ``work`` (a Ray Dataset), its ``map_batch_size``,
    ``num_batches`` (``None`` for a user's Ray Dataset: counted as they come) and the
    ``source`` each worker holds (a tensor or torch Dataset, else ``None``)."""

    work: Any
    map_batch_size: int
    num_batches: int | None
    source: Any = None


def _plan(ray: Any, data: Any, batch_size: int) -> _Plan:
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if is_ray_dataset(data):
        work = ordered_ray_dataset(data).repartition(
            target_num_rows_per_block=batch_size, strict=True
        )
        return _Plan(work, batch_size, None)
    if isinstance(data, torch.utils.data.Dataset) and hasattr(data, "__len__"):
        n = math.ceil(len(data) / batch_size)
        return _Plan(_items(ray, [{_BATCH: k} for k in range(n)]), 1, n, data)
    items = [{_BATCH: k, _PAYLOAD: batch_payload(b)}
             for k, b in enumerate(iter_batches(data, batch_size))]
    if not items:
        raise ValueError("no batch streamed")
    return _Plan(_items(ray, items), 1, len(items))


def _items(ray: Any, items: list[dict]) -> Any:
    """One block, hence one task, per batch: workers share the batches out one at a time, and
    a dying worker costs its batch only."""
    return ray.data.from_items(items, override_num_blocks=len(items))


@dataclass
class RunInfo:
    """What the last run of a :class:`RayEngine` did: ``batches`` merged, ``rows`` (images)
    traced, ``arrivals`` (seconds from the start of the run at which each batch's state came
    back), the largest per-batch state in bytes (``state_bytes``) and ``workers``: per worker
    process id, its ``rows``, the wall-clock ``began`` of its first batch and ``ended`` of its
    last (the span it computed, its start-up excluded), and in bytes its peak resident memory
    (``getrusage``) and private memory (psutil's USS) once the model was loaded
    (``loaded_peak``, ``loaded_private``), after its first batch (``first_peak``,
    ``first_private``) and after its last (``last_peak``, ``last_private``)."""

    batches: int = 0
    rows: int = 0
    arrivals: list[float] = field(default_factory=list)
    state_bytes: int = 0
    workers: dict[int, dict[str, float]] = field(default_factory=dict)

    def record(self, row: dict, seconds: float) -> None:
        """Count one batch's output row (arrived ``seconds`` into the run)."""
        self.rows += int(row["rows"])
        self.arrivals.append(seconds)
        self.state_bytes = max(self.state_bytes, len(row["state"]))
        pid = int(row["pid"])
        loaded_peak, loaded_private, peak, private = (int(v) for v in row["memory"])
        w = self.workers.setdefault(pid, {"rows": 0, "began": float(row["began"]),
                                          "loaded_peak": loaded_peak, "first_peak": peak,
                                          "loaded_private": loaded_private,
                                          "first_private": private})
        # rows arrive in any order: the span is from the earliest start to the latest end
        w.update(last_peak=peak, last_private=private,
                 began=min(w["began"], float(row["began"])),
                 ended=max(w.get("ended", float(row["ended"])), float(row["ended"])))
        w["rows"] += int(row["rows"])


class _OrderedMerge:
    """Folds the per-batch states into the accumulators in batch order (states that arrive
    early wait, serialised, for the ones before them)."""

    def __init__(self, accumulators: dict, info: RunInfo) -> None:
        self.accumulators, self.info = accumulators, info
        self.pending: dict[int, bytes] = {}
        self.seen: set[int] = set()
        self.next = 0
        self.start = time.perf_counter()

    def add(self, row: dict) -> None:
        k = int(row[_BATCH])
        k = self.next + len(self.pending) if k < 0 else k  # a Ray Dataset: in row order
        if k in self.seen:  # a batch retried after its result was already in
            return
        self.seen.add(k)
        self.pending[k] = row["state"]
        self.info.record(row, time.perf_counter() - self.start)
        while self.next in self.pending:
            parts = _loads(self.pending.pop(self.next))
            for name, acc in self.accumulators.items():
                acc.merge(parts[name])
            self.next += 1
        self.info.batches = self.next

    def missing(self, total: int | None) -> list[int]:
        if total is None:
            return []
        return [k for k in range(total) if k not in self.seen]


class RayEngine:
    """Runs the ``dataset_*`` analyses on Ray (see the module doc).

    Args:
        num_workers: actors in the pool (default: one per GPU of the cluster, else one per
            ``num_cpus`` of its CPUs, less one CPU for reading when the data is a Ray Dataset).
        num_gpus: GPUs per worker (default 1 when the cluster has GPUs, else 0).
        num_cpus: CPUs per worker (Ray's scheduling unit; a Ray Dataset read needs CPUs too,
            so leave some free for it).
        threads: torch threads per worker (default ``max(1, int(num_cpus))``).
        address: the cluster for ``ray.init`` when Ray is not initialised yet (``None``: a
            local Ray on this machine; ``"auto"`` or ``"ray://host:10001"``: a cluster).
        max_retries: restarts of a dead worker and retries of its batch before the run fails
            with the missing batches.
        connect_timeout_s: how long a ``host:port`` address may take to answer.
        init_kwargs: more keywords for ``ray.init``.

    ``last_run`` (:class:`RunInfo`) tells what the last run did (batches, images, the workers'
    peak memory).
    """

    def __init__(
        self,
        num_workers: int | None = None,
        *,
        num_gpus: float | None = None,
        num_cpus: float = 1.0,
        threads: int | None = None,
        address: str | None = None,
        max_retries: int = 3,
        connect_timeout_s: float = 10.0,
        init_kwargs: dict | None = None,
    ) -> None:
        if num_workers is not None and num_workers < 1:
            raise ValueError(f"num_workers must be at least 1, got {num_workers}")
        if num_cpus <= 0 or max_retries < 0:
            raise ValueError("num_cpus must be positive and max_retries at least 0")
        self.ray = require_ray()
        self.num_workers, self.num_gpus, self.num_cpus = num_workers, num_gpus, num_cpus
        self.threads = threads if threads is not None else max(1, int(num_cpus))
        self.address, self.max_retries = address, max_retries
        self.init_kwargs = dict(init_kwargs or {})
        self.connect_timeout_s = connect_timeout_s
        self.last_run = RunInfo()

    def connect(self) -> None:
        """``ray.init`` unless Ray is initialised; a clear error when the cluster is out of
        reach (a ``host:port`` address is tried first, for at most ``connect_timeout_s``:
        ``ray.init`` itself keeps retrying an unreachable address for minutes). A local Ray
        whose start times out (Ray waits 30 s for its raylet) is started once more."""
        if self.ray.is_initialized():
            return
        kw = {"include_dashboard": False, "log_to_driver": False, **self.init_kwargs}
        try:
            _check_reachable(self.address, self.connect_timeout_s)
            try:
                self.ray.init(address=self.address, **kw)
            except Exception as e:  # a local Ray that started too slowly (a busy machine)
                if "timed out during startup" not in str(e):
                    raise
                self.ray.shutdown()
                self.ray.init(address=self.address, **kw)  # once more
        except (ConnectionError, TimeoutError, RuntimeError, ValueError, OSError) as e:
            raise EngineUnavailableError(
                f"cannot reach the Ray cluster at {self.address or 'a new local Ray'}: {e}. "
                "Start one (`ray start --head`) or give address=None for a local Ray on this "
                "machine"
            ) from None

    def _resources(self, reads: bool) -> tuple[int, float]:
        """``(workers, GPUs per worker)``; by default one worker per GPU, else per CPU, one
        CPU fewer when Ray Data reads files (``reads``): its read tasks need a CPU too."""
        total = self.ray.cluster_resources()
        gpus = int(total.get("GPU", 0))
        num_gpus = self.num_gpus if self.num_gpus is not None else (1.0 if gpus else 0.0)
        workers = self.num_workers
        if workers is None and num_gpus and gpus:
            workers = int(gpus // num_gpus)
        elif workers is None:
            workers = int((total.get("CPU", 1) - (1 if reads else 0)) // self.num_cpus)
        return max(1, workers), num_gpus

    def _results(self, plan: _Plan, ctor: dict) -> Iterator[dict]:
        workers, num_gpus = self._resources(reads=plan.num_batches is None)
        with warnings.catch_warnings():  # max_restarts has no named parameter yet (Ray 2.60)
            warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated")
            out = self._map(plan, ctor, workers, num_gpus)
        out = ordered_ray_dataset(out)
        out.context.enable_progress_bars = False
        out.context.print_on_execution_start = False
        out.context.enable_auto_log_stats = False
        return out.iter_rows()

    def _map(self, plan: _Plan, ctor: dict, workers: int, num_gpus: float) -> Any:
        return plan.work.map_batches(
            _Worker, batch_size=plan.map_batch_size, batch_format="numpy",
            compute=self.ray.data.ActorPoolStrategy(size=workers), fn_constructor_kwargs=ctor,
            num_cpus=self.num_cpus, num_gpus=num_gpus, max_restarts=self.max_retries,
            max_task_retries=self.max_retries,
        )

    def run(self, job: Job) -> dict:
        """The job's accumulators after every batch, merged in batch order (the
        :class:`vitwidgets.core.streaming.Engine` protocol)."""
        from tqdm.auto import tqdm

        ctor = {"model": _ModelSpec.of(job.model),
                "model_b": None if job.model_b is None else _ModelSpec.of(job.model_b),
                "template": _dumps(job.accumulators), "batch_size": job.batch_size,
                "preprocessed": job.preprocessed, "kw": job.trace_kwargs,
                "threads": self.threads}
        self.connect()
        plan = _plan(self.ray, job.data, job.batch_size)
        self.last_run = info = RunInfo()
        merge = _OrderedMerge(job.accumulators, info)
        bar = tqdm(total=plan.num_batches, desc=f"{job.desc} (ray)", disable=not job.progress)
        try:
            for row in self._results(plan, {**ctor, "source": plan.source}):
                merge.add(row)
                bar.update(1)
        except Exception as e:  # noqa: BLE001  (any failure of the run: name what is missing)
            raise self._missing(merge, plan.num_batches, e) from e
        finally:
            bar.close()
        missing = merge.missing(plan.num_batches)
        if missing or (plan.num_batches is None and info.batches == 0):
            raise self._missing(merge, plan.num_batches, None)
        return job.accumulators

    @staticmethod
    def _missing(merge: _OrderedMerge, total: int | None, cause: Exception | None):
        missing = merge.missing(total)
        done = f"{merge.next} of {total}" if total is not None else f"{merge.next}"
        what = (f"missing batches {spans(missing)}" if total is not None
                else f"the batches from {merge.next} on are missing")
        why = "" if cause is None else f" ({type(cause).__name__}: {str(cause).strip()[:500]})"
        return MissingBatchesError(
            f"the Ray run stopped after {done} batches; {what}; no partial result is "
            f"returned{why}", missing,
        )
