"""Trains the `digits` example's network and exports it as PyTorch would.

Run from the repository root: `python3 examples/data/train_digits.py`
(needs `numpy`, `scikit-learn` and `safetensors`; the files it writes are committed, so neither
the example nor CI needs Python).

- Data: `digits.csv` (scikit-learn's 8x8 digits, pixels k/16), rows 0..1500 to train,
  rows 1500..1797 to test, no shuffling.
- Model: `MLPClassifier(hidden_layer_sizes=(32,))`, ReLU hidden layer and softmax output:
  the Rust declaration `64 -> 32 relu -> 10 softmax`.
- `digits.safetensors`: the weights in the layout `safetensors.torch.save_file(model.state_dict())`
  writes for `nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))`: `0.weight` [32, 64],
  `0.bias` [32], `2.weight` [10, 32], `2.bias` [10], float32 (scikit-learn's `coefs_[k]` is
  [in, out], so it is transposed).
- `digits_predictions.csv`: for each test row, the class scikit-learn predicts and its ten
  probabilities, computed by scikit-learn from exactly the float32 weights in the file.
"""

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from sklearn.neural_network import MLPClassifier

HERE = Path(__file__).parent
TRAIN = 1500

data = np.loadtxt(HERE / "digits.csv", delimiter=",", skiprows=1)
x, y = data[:, :64], data[:, 64].astype(int)
x_train, y_train, x_test, y_test = x[:TRAIN], y[:TRAIN], x[TRAIN:], y[TRAIN:]

model = MLPClassifier(hidden_layer_sizes=(32,), activation="relu", alpha=1e-4,
                      max_iter=2000, random_state=0)
model.fit(x_train, y_train)
assert model.out_activation_ == "softmax"
assert list(model.classes_) == list(range(10))

# Round the weights to float32, the dtype of the file, and predict with exactly those.
model.coefs_ = [c.astype(np.float32).astype(np.float64) for c in model.coefs_]
model.intercepts_ = [b.astype(np.float32).astype(np.float64) for b in model.intercepts_]

save_file(
    {
        "0.weight": np.ascontiguousarray(model.coefs_[0].T, dtype=np.float32),
        "0.bias": model.intercepts_[0].astype(np.float32),
        "2.weight": np.ascontiguousarray(model.coefs_[1].T, dtype=np.float32),
        "2.bias": model.intercepts_[1].astype(np.float32),
    },
    HERE / "digits.safetensors",
    metadata={"format": "pt"},
)

probabilities = model.predict_proba(x_test)
predicted = model.predict(x_test)
assert (predicted == probabilities.argmax(axis=1)).all()
with open(HERE / "digits_predictions.csv", "w") as f:
    f.write("row,predicted," + ",".join(f"p{k}" for k in range(10)) + "\n")
    for row, (p, probs) in enumerate(zip(predicted, probabilities), start=TRAIN):
        f.write(f"{row},{p}," + ",".join(repr(float(v)) for v in probs) + "\n")

accuracy = (predicted == y_test).mean()
print(f"test accuracy {accuracy:.4f} ({(predicted == y_test).sum()} of {len(y_test)})")
