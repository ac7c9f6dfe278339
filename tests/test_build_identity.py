"""The datasets' reorganisation changed no example: small 480x640 builds of every family, hashed.

``tests/data/build_fingerprints.json`` was written by ``tests/build_fingerprints.py`` run
against commit 0be8a32 (before the h5 tree got its own builder, the synthetic worlds became a
package and the label map became a LabeledImage). This test builds the same with today's
code and compares the sha256 of every serialized feature of every example, and of every
array the two worlds render (raw depth included, which the examples do not hold). The label
map's serialized bytes are compared too (a LabeledImage encodes as an Image does), and
also its decoded values (``label:decoded``).
"""

from __future__ import annotations

import json
import pathlib

from build_fingerprints import build_fingerprints

RECORDED = pathlib.Path(__file__).parent / "data" / "build_fingerprints.json"


def test_every_family_writes_the_examples_commit_0be8a32_wrote(tmp_path):
    want = json.loads(RECORDED.read_text())["fingerprints"]
    got = build_fingerprints(tmp_path)
    assert sorted(got) == sorted(want)
    frames = want.pop("frames")
    differences = [
        f"frame {name}: {field}"
        for name, fields in frames.items()
        for field in fields
        if got["frames"][name][field] != fields[field]
    ]
    for dataset, splits in want.items():
        assert sorted(got[dataset]) == sorted(splits), dataset
        for split, examples in splits.items():
            assert sorted(got[dataset][split]) == sorted(examples), f"{dataset} {split}: other example keys"
            for key, features in examples.items():
                changed = [f for f, digest in features.items() if got[dataset][split][key].get(f) != digest]
                if changed:
                    differences.append(f"{dataset} {split} {key}: {', '.join(changed)}")
    assert not differences, "\n".join(differences)
    assert sum(len(e) for s in want.values() for e in s.values()) == 32  # 8 builds of 3 to 6 examples each
