"""Activations: values and derivatives against PyTorch and against central differences."""

import numpy as np
import pytest

from initlab.activations import get_activation, list_activations

ACTIVATIONS = [*list_activations(), "leaky_relu(slope=0.2)", "elu(alpha=0.5)"]
# Points away from the kinks at 0, plus large magnitudes where overflow could bite.
Z = np.concatenate(
    [np.linspace(-6, 6, 121)[np.abs(np.linspace(-6, 6, 121)) > 1e-9], [-800.0, -40.0, 40.0, 800.0]]
)


@pytest.mark.parametrize("spec", ACTIVATIONS)
def test_derivative_matches_central_differences(spec):
    act = get_activation(spec)
    z = Z[np.abs(Z) < 50]
    h = 1e-6
    numeric = (act.f(z + h) - act.f(z - h)) / (2 * h)
    # Truncation h^2 |phi'''| / 6 and rounding eps |phi| / h: 1e-7 absolute is ample.
    np.testing.assert_allclose(act.df(z, act.f(z)), numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("spec", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_are_finite_and_keep_dtype(spec, dtype):
    act = get_activation(spec)
    z = Z.astype(dtype)
    with np.errstate(over="ignore"):
        a = act.f(z)
        d = np.asarray(act.df(z, a), dtype=dtype)
    assert a.dtype == dtype and a.shape == z.shape
    assert np.isfinite(a).all() and np.isfinite(d).all()


def test_derivatives_at_the_kink_follow_pytorch():
    zero = np.zeros(1)
    assert get_activation("relu").df(zero, zero)[0] == 0
    assert get_activation("leaky_relu(slope=0.1)").df(zero, zero)[0] == 0.1
    assert get_activation("elu(alpha=0.5)").df(zero, zero)[0] == 0.5


TORCH_NAMES = {
    "relu": ("relu", {}),
    "leaky_relu": ("leaky_relu", {"negative_slope": 0.01}),
    "tanh": ("tanh", {}),
    "sigmoid": ("sigmoid", {}),
    "elu": ("elu", {}),
    "selu": ("selu", {}),
    "gelu": ("gelu", {}),
    "silu": ("silu", {}),
    "softplus": ("softplus", {}),
}


@pytest.mark.parametrize("spec", sorted(TORCH_NAMES))
def test_values_and_derivatives_match_pytorch(spec):
    torch = pytest.importorskip("torch")
    name, kwargs = TORCH_NAMES[spec]
    fn = getattr(torch.nn.functional, name)
    z = np.linspace(-8, 8, 161)  # includes 0: the kink conventions are compared too
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    out = fn(t, **kwargs)
    out.sum().backward()
    act = get_activation(spec)
    a = act.f(z)
    np.testing.assert_allclose(a, out.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(act.df(z, a), t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_unknown_activation_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown activation 'swishy'\. Valid names: .*gelu"):
        get_activation("swishy")
    with pytest.raises(ValueError, match="Unknown parameter 'alpha' for activation 'relu'"):
        get_activation("relu(alpha=1)")


def test_repr_is_the_spec():
    assert repr(get_activation("leaky_relu(slope=0.2)")) == "Activation('leaky_relu(slope=0.2)')"
