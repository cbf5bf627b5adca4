import { test } from "node:test";
import assert from "node:assert/strict";
import { UNTAGGED, filterChoices, rowVisible, tagChoices, countText } from "../src/annotator/filter.js";

test("filter options: all, untagged, then each tag", () => {
  assert.deepEqual(filterChoices(["local", "global"]), [["", "all heads"], [UNTAGGED, "untagged (by you)"], ["local", "local"], ["global", "global"]]);
  assert.equal(UNTAGGED, "__untagged__");
});

test("a head matches by your tag, or by the proposed one while you gave none", () => {
  assert.equal(rowVisible("", "x", "y"), true);
  assert.equal(rowVisible(UNTAGGED, "", "global"), true);
  assert.equal(rowVisible(UNTAGGED, undefined, "global"), true);
  assert.equal(rowVisible(UNTAGGED, "local", "global"), false);
  assert.equal(rowVisible("global", undefined, "global"), true, "proposed tag counts while untagged");
  assert.equal(rowVisible("global", "", "global"), true);
  assert.equal(rowVisible("global", "local", "global"), false, "your tag wins over the proposal");
  assert.equal(rowVisible("local", "local", "global"), true);
});

test("a head's tag options keep its current tag even when it is not a known tag", () => {
  assert.deepEqual(tagChoices(["a", "b"], ""), [["", "—"], ["a", "a"], ["b", "b"]]);
  assert.deepEqual(tagChoices(["a"], "a"), [["", "—"], ["a", "a"]]);
  assert.deepEqual(tagChoices(["a"], "old"), [["", "—"], ["a", "a"], ["old", "old"]]);
  assert.equal(countText(2, 6, 1), "2 of 6 heads shown · 1 annotated");
});
