"""The one-walk Tree that role inference reads equals torch's own module walks, shared modules included."""

from __future__ import annotations

import pytest
from torch import nn

from winit._torch_roles import Tree, _nesting, _stacks, infer, own_parameters


def _block() -> nn.Module:
    return nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8))


def _plain() -> nn.Module:
    return nn.Sequential(
        nn.Embedding(10, 8), nn.ModuleList([_block() for _ in range(3)]), nn.LayerNorm(8), nn.Linear(8, 10)
    )


def _shared() -> nn.Module:
    inner = _block()
    model = nn.Sequential(nn.ModuleList([inner, _block(), inner]), nn.Linear(8, 3))
    model.add_module("again", inner)  # the same block under a third name
    return model


@pytest.mark.parametrize("build", [_plain, _shared])
def test_tree_walks_like_torch(build: object) -> None:
    model = build()  # type: ignore[operator]
    tree = Tree(model)
    assert [(p, id(m)) for p, m in tree.order] == [(p, id(m)) for p, m in model.named_modules()]
    for _, sub in model.named_modules():
        assert [id(m) for m in tree.subtree(sub)] == [id(m) for m in sub.modules()]
        assert [id(m) for m in tree.kids(sub)] == [id(m) for m in sub.children()]
        assert tree.params(sub) == list(sub.named_parameters(recurse=False))
        assert tree.holds(sub) == any(True for _ in sub.parameters())
    assert tree.shared is (build is _shared)


def test_nesting_matches_its_definition() -> None:
    model = nn.Sequential(nn.ModuleList([nn.Sequential(_block(), _block()) for _ in range(2)]), _block())
    tree = Tree(model)
    members = [m for _, m in tree.order if isinstance(m, nn.Sequential) and m is not model]
    ids = {id(m) for m in members}
    innermost, outer = _nesting(members, tree)
    expected = [m for m in members if not any(id(k) in ids for k in m.modules() if k is not m)]
    assert [id(m) for m in innermost] == [id(m) for m in expected]
    assert outer == {id(k): m for m in members for k in m.modules() if k is not m}


def test_shared_blocks_keep_their_roles() -> None:
    """A module reached twice falls back to torch's walks: the stack and roles are still found."""
    model = _shared()
    assert len(_stacks(model)) >= 2
    slots = infer(model)
    assert {id(p) for p in model.parameters()} <= {
        id(getattr(m, a)) for m in model.modules() for a, _ in own_parameters(m)
    }
    assert len(slots) == len({(id(m), a) for m in model.modules() for a, _ in own_parameters(m)})
