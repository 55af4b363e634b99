#!/usr/bin/env python3
"""Writes data/fashion-mnist-subset/: the first 4000 training and 1000 test images of
Fashion-MNIST (MIT licence, Zalando Research) as gzipped IDX files, from the Debian package
dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)."""
import gzip, struct, sys, pathlib

SRC = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist")
DST = pathlib.Path(__file__).resolve().parent.parent / "data" / "fashion-mnist-subset"
DST.mkdir(parents=True, exist_ok=True)

for split, count in [("train", 4000), ("t10k", 1000)]:
    for kind, magic, item in [("images-idx3", 2051, 28 * 28), ("labels-idx1", 2049, 1)]:
        name = f"{split}-{kind}-ubyte.gz"
        raw = gzip.open(SRC / name).read()
        header = 16 if magic == 2051 else 8
        assert struct.unpack(">I", raw[:4])[0] == magic
        out = bytearray(raw[:header])
        out[4:8] = struct.pack(">I", count)
        out += raw[header : header + count * item]
        # mtime=0 keeps the file byte-identical across runs.
        with gzip.GzipFile(DST / name, "wb", mtime=0) as f:
            f.write(bytes(out))
        print(DST / name, count)
