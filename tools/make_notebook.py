"""Writes examples/summary.ipynb, the example notebook the tests run in a real kernel
(tests/integration/test_notebook.py): `python tools/make_notebook.py`. It is kept without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat

CELLS = [
    (
        "markdown",
        "# convinspect in a notebook\n\nA Keras layer has no weights until it first sees an input: "
        "`convinspect.summary` shows that, and what building will create, without touching your model.",
    ),
    (
        "code",
        "import keras\nimport convinspect\n\n"
        "model = keras.Sequential([\n"
        '    keras.layers.Conv2D(32, 3, activation="relu", name="conv1"),\n'
        '    keras.layers.MaxPooling2D(name="pool"),\n'
        '    keras.layers.Conv2D(64, 3, activation="relu", name="conv2"),\n'
        '    keras.layers.GlobalAveragePooling2D(name="gap"),\n'
        '    keras.layers.Dense(10, name="head"),\n'
        '], name="lazy_convnet")\n'
        "convinspect.summary(model)  # not built: no variables yet",
    ),
    ("code", "convinspect.summary(model, input_shape=(None, 28, 28, 1))  # what building will create"),
    ("code", "model.built, len(model.weights)  # still as it was"),
    ("code", "convinspect.summary(keras.layers.Conv2D(64, 5), input_shape=(2, 32, 32, 1))"),
]


def main() -> None:
    notebook = nbformat.v4.new_notebook()
    for kind, source in CELLS:
        cell = nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
        notebook.cells.append(cell)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = Path(__file__).resolve().parents[1] / "examples" / "summary.ipynb"
    nbformat.write(notebook, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
