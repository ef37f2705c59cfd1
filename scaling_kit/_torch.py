"""Small torch helpers shared by the modules that train with torch (one copy of each).

* :func:`torch_threads`: run a block with a given number of torch intra-op threads and restore
  the previous setting afterwards. Small workloads (a few thousand elements, the MLP's 32-wide
  layers) lose more to thread start-up and contention than threads save, and on a busy machine
  torch's spinning worker threads slowed the batched MLP about twentyfold in our measurements,
  so the kit's torch code runs on one thread and parallelizes over datasets instead.
* :func:`threads_for`: the thread count for a workload of ``n_elements`` array elements (one
  thread below ``threshold``; ``None``, i.e. torch's own setting, above).
* :func:`resolve_device`: ``"auto"`` (CUDA when torch sees a GPU, else the CPU), ``"cpu"``,
  ``"cuda"``/``"cuda:N"`` or a :class:`torch.device`, checked.
"""

from __future__ import annotations

from contextlib import contextmanager

__all__ = ["resolve_device", "threads_for", "torch_threads"]


@contextmanager
def torch_threads(n_threads: int | None = 1):
    """Temporarily set torch's intra-op thread count to ``n_threads`` (``None``: leave it).

    The previous count is restored on exit, also when the block raises. Note that the setting is
    process-wide: do not run two blocks with different settings in threads of one process.
    """
    import torch

    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def threads_for(n_elements: int, threshold: int = 1 << 20) -> int | None:
    """One thread for workloads below ``threshold`` elements, else ``None`` (torch's setting).

    Use as ``with torch_threads(threads_for(x.size)): ...``.
    """
    return 1 if int(n_elements) < int(threshold) else None


def resolve_device(device="auto"):
    """A :class:`torch.device` from ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a device.

    ``"auto"`` picks the first CUDA device when ``torch.cuda.is_available()``, else the CPU.
    Asking for CUDA where torch sees none raises ``ValueError`` with the remedy.
    """
    import torch

    if isinstance(device, torch.device):
        resolved = device
    elif isinstance(device, str):
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            resolved = torch.device(device)
        except RuntimeError:
            raise ValueError(
                f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}."
            ) from None
    else:
        raise TypeError(
            f"device must be a string ('auto', 'cpu', 'cuda', 'cuda:N') or a torch.device; "
            f"got {device!r} ({type(device).__name__})."
        )
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} asks for CUDA but torch sees no GPU (torch "
                f"{torch.__version__}); use device='auto' or 'cpu'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}: torch sees {torch.cuda.device_count()} CUDA device(s)."
            )
    elif resolved.type != "cpu":
        raise ValueError(f"device must be a CPU or CUDA device; got {device!r}.")
    return resolved
