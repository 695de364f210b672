"""What a model-level ``init_`` did, framework-neutral: one row per initialized tensor (or block of one)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from winit._roles import KEEP
from winit._schemes import Plan
from winit._table import rich_table as _rich_table
from winit._table import text_table

_HEADERS: Final = (
    "parameter",
    "layer",
    "role",
    "scheme",
    "layout",
    "shape",
    "fan_in",
    "fan_out",
    "gain",
    "std",
)
#: shown only when some row's learning rate is scaled (a recipe such as μP under Adam).
_LR_HEADER: Final = "lr_mult"
_NUMERIC: Final = frozenset({"fan_in", "fan_out", "gain", "std", _LR_HEADER})


@dataclass(frozen=True)
class InitRecord:
    """One initialized tensor: its qualified name, the layer it belongs to and the resolved plan's numbers.

    ``part`` names a block of a fused parameter initialized on its own (an RNN gate, a q/k/v block
    of an attention projection); it is empty for a whole parameter. ``kept``: the rule was ``"keep"``
    and the tensor holds what the model's constructor set; ``tied_to``: this name is an alias of a
    parameter written under its first name ``tied_to`` (drawn once, not again). Both rows carry no
    plan: fans 0, gain and std NaN. ``role`` is the parameter's :class:`winit.Role` value (empty when
    the caller did not infer one). ``lr_multiplier`` is the factor a recipe puts on the learning
    rate of this tensor (μP's hidden weights under Adam: 1/width_mult); 1 otherwise.
    """

    name: str
    layer: str
    scheme: str
    shape: tuple[int, ...]
    fan_in: int
    fan_out: int
    gain: float
    std: float
    layout: str = "torch"
    part: str = ""
    kept: bool = False
    tied_to: str = ""
    role: str = ""
    lr_multiplier: float = 1.0

    @classmethod
    def from_plan(
        cls, name: str, layer: str, plan: Plan, part: str = "", role: str = "", lr_multiplier: float = 1.0
    ) -> InitRecord:
        """The row for ``plan`` applied to parameter ``name`` of a ``layer``."""
        return cls(
            name=name,
            layer=layer,
            scheme=plan.scheme.name,
            shape=plan.shape,
            fan_in=plan.fan_in,
            fan_out=plan.fan_out,
            gain=plan.gain,
            std=plan.std,
            layout=plan.layout,
            part=part,
            role=role,
            lr_multiplier=lr_multiplier,
        )

    @classmethod
    def keep(
        cls, name: str, layer: str, shape: tuple[int, ...], part: str = "", role: str = ""
    ) -> InitRecord:
        """The row for parameter ``name`` left as constructed (rule ``"keep"``)."""
        nan = math.nan
        return cls(name, layer, KEEP, shape, 0, 0, nan, nan, layout="", part=part, kept=True, role=role)

    @classmethod
    def tie(cls, name: str, layer: str, shape: tuple[int, ...], first: str, role: str = "") -> InitRecord:
        """The row for ``name``, the same tensor as parameter ``first`` (initialized under that name)."""
        nan = math.nan
        return cls(name, layer, "tied", shape, 0, 0, nan, nan, layout="", tied_to=first, role=role)

    @property
    def key(self) -> str:
        """``name``, or ``name[part]`` for a block: the string :class:`InitReport` indexes by."""
        return f"{self.name}[{self.part}]" if self.part else self.name

    def cells(self, lr_mult: bool = False) -> tuple[str, ...]:
        """The row as table cells, in the order of the report's columns (``lr_mult`` adds that column)."""
        shape = "×".join(str(d) for d in self.shape) or "scalar"
        # a tied name is trained as its first name: its own learning rate would say nothing
        lr = (("-" if self.tied_to else f"{self.lr_multiplier:.4g}"),) if lr_mult else ()
        if self.kept or self.tied_to:  # no plan: the numbers would say nothing
            scheme = f"tied to {self.tied_to}" if self.tied_to else self.scheme
            return (self.key, self.layer, self.role or "-", scheme, "-", shape, "-", "-", "-", "-", *lr)
        return (
            self.key, self.layer, self.role or "-", self.scheme, self.layout, shape,
            str(self.fan_in), str(self.fan_out), f"{self.gain:.4g}", f"{self.std:.4g}", *lr,
        )  # fmt: skip


class InitReport:
    """The rows of an ``init_`` run in the order they were written; ``str()`` is a plain-text table."""

    def __init__(self, records: Iterable[InitRecord]) -> None:
        self.records: tuple[InitRecord, ...] = tuple(records)
        self._by_key = {record.key: record for record in self.records}

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[InitRecord]:
        return iter(self.records)

    def __getitem__(self, key: int | str) -> InitRecord:
        """Row ``key``: a position, or a qualified name (``name[part]`` for a block)."""
        if isinstance(key, str):
            try:
                return self._by_key[key]
            except KeyError:
                raise KeyError(f"no row {key!r} in the report; rows: {', '.join(self._by_key)}") from None
        return self.records[key]

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __repr__(self) -> str:
        return f"InitReport({len(self.records)} rows)"

    def _table(self) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
        """Headers and cells; the lr_mult column only when some row's learning rate is scaled."""
        lr_mult = any(record.lr_multiplier != 1.0 for record in self.records)
        headers = (*_HEADERS, _LR_HEADER) if lr_mult else _HEADERS
        return headers, [record.cells(lr_mult) for record in self.records]

    def __str__(self) -> str:
        headers, rows = self._table()
        return text_table(headers, rows, _NUMERIC)

    def rich_table(self, title: str | None = "winit init report") -> Any:
        """The report as a ``rich.table.Table`` (needs rich: ``pip install 'winit[cli]'``)."""
        headers, rows = self._table()
        return _rich_table(headers, rows, numeric=_NUMERIC, title=title, title_justify="center")
