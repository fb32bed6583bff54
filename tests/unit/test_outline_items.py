"""GUI: the flat outline table and the book tree share one item-model base (OutlineItems):
the same flags, the same edits of a name, target and lock, the same looks of a section."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt

from longhand.core.engine import book as B
from longhand.core.engine.plan import DONE, Section
from longhand.core.engine.writer import MAX_TARGET, MIN_TARGET
from longhand.core.projects.project import Project
from longhand.ui import book_outline as tree_mod
from longhand.ui import outline as flat_mod
from longhand.ui.outline_items import STATUS_COLORS, WARN, OutlineItems

Role = Qt.ItemDataRole


def book() -> Project:
    p = Project(instruction="Write a novel.", target_words=2000)
    p.chapters = [B.Chapter(title="One", synopsis="", target_words=2000)]
    p.sections = [Section(main_point="The storm", target_words=1000),
                  Section(main_point="The calm", target_words=1000)]
    for s in p.sections:
        s.chapter = 0
    return p


@pytest.fixture(params=["flat", "tree"])
def scene(request, qtbot):
    """(model, index of the second section's name cell, column numbers) for either outline."""
    flat = flat_mod.OutlineModel(book())
    if request.param == "flat":
        return flat, lambda col: flat.index(1, col), flat_mod
    tree = tree_mod.BookTreeModel(flat)
    return tree, lambda col: tree.index(1, col, tree.index(0, 0)), tree_mod


def name_col(mod):
    return mod.COL_POINT if mod is flat_mod else mod.COL_NAME


def test_both_models_are_outline_items(scene):
    model, _at, _mod = scene
    assert isinstance(model, OutlineItems)


def test_flags_editable_checkable_and_nothing_while_read_only(scene):
    model, at, mod = scene
    editable = Qt.ItemFlag.ItemIsEditable
    assert model.flags(at(name_col(mod))) & editable and model.flags(at(mod.COL_TARGET)) & editable
    assert not model.flags(at(mod.COL_WRITTEN)) & editable
    assert model.flags(at(mod.COL_LOCK)) & Qt.ItemFlag.ItemIsUserCheckable
    assert model.flags(at(mod.COL_STATUS)) & Qt.ItemFlag.ItemIsDragEnabled
    assert model.flags(QModelIndex()) & Qt.ItemFlag.ItemIsDropEnabled
    # only the tree takes a drop on an item (a scene dropped into a chapter)
    assert bool(model.flags(at(mod.COL_STATUS)) & Qt.ItemFlag.ItemIsDropEnabled) == (mod is tree_mod)
    model.read_only = True
    assert model.flags(at(name_col(mod))) == Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
    assert model.flags(QModelIndex()) == Qt.ItemFlag.NoItemFlags
    assert not model.setData(at(mod.COL_TARGET), 700)


def test_edits_of_name_target_and_lock(scene):
    model, at, mod = scene
    sec = model.project.sections[1]
    sec.title = "Old heading"
    changed = []
    model.changed.connect(lambda: changed.append(1))
    assert model.setData(at(name_col(mod)), "  A   quiet  morning ")
    assert (sec.main_point, sec.title) == ("A quiet morning", "")     # the heading follows it
    assert not model.setData(at(name_col(mod)), "   ")
    assert model.setData(at(mod.COL_TARGET), "1,200") and sec.target_words == 1200
    assert not model.setData(at(mod.COL_TARGET), 1200)                # unchanged
    assert not model.setData(at(mod.COL_TARGET), "many")
    assert model.setData(at(mod.COL_TARGET), 10**9) and sec.target_words == MAX_TARGET
    assert model.setData(at(mod.COL_TARGET), 1) and sec.target_words == MIN_TARGET
    assert model.setData(at(mod.COL_LOCK), Qt.CheckState.Checked.value, Role.CheckStateRole) and sec.locked
    assert not model.setData(at(mod.COL_WRITTEN), 5)
    assert len(changed) == 5


def test_a_sections_looks(scene):
    model, at, mod = scene
    sec = model.project.sections[1]
    sec.text, sec.status = "It rained.", DONE
    assert model.data(at(mod.COL_STATUS)) == "done"
    assert model.data(at(mod.COL_STATUS), Role.ForegroundRole).name() == STATUS_COLORS[DONE]
    assert model.data(at(mod.COL_LOCK), Role.CheckStateRole) == Qt.CheckState.Unchecked
    assert model.data(at(mod.COL_TARGET), Role.TextAlignmentRole) == \
        int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    sec.needs_attention = True
    assert model.data(at(mod.COL_STATUS)) == "⚠ done, needs attention"
    assert model.data(at(mod.COL_STATUS), Role.ForegroundRole).name() == WARN
    flat = model if mod is flat_mod else model.flat
    flat.streaming = 1
    assert model.data(at(mod.COL_STATUS)) == "⚠ writing, needs attention"
    assert model.data(at(name_col(mod)), Role.FontRole).bold()
    assert model.headerData(mod.COL_LOCK, Qt.Orientation.Horizontal) == "Lock"
    assert "Locked" in model.headerData(mod.COL_LOCK, Qt.Orientation.Horizontal, Role.ToolTipRole)
