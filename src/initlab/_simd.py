"""Explicit SIMD vectors for the compiled kernel: a Numba type and intrinsics that emit LLVM IR.

Numba vectorizes loops whose trip count it does not know, but the kernel's inner loops run over
a block of a few samples, a constant the compiler unrolls, and Numba leaves LLVM's straight-line
(SLP) vectorizer off: written as scalar loops, the block's arithmetic would run one lane at a
time. These intrinsics make the vector explicit instead. A :class:`Vec` is one LLVM vector of
``LANES[dtype]`` numbers (16 float64 or 32 float32: four AVX-512 registers, eight AVX2 ones);
loads and stores address a flat element offset into an array, and every operation is one IR
instruction with IEEE semantics (no fast-math flags), so a lane's result depends on its operands
alone: equal units give equal bits, whatever lane or block they fall in.

Arithmetic takes vectors or scalars (a scalar is converted to the vector's dtype and broadcast),
so ``vfma(p, w, acc)`` reads as the formula p w + acc with w a weight. Comparisons exist only
fused with a select (``vsel_gt(a, b, x, y)`` is ``where(a > b, x, y)``): ordered, so a NaN
compares false, the way NumPy's ``np.where(z > 0, ...)`` treats it.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

LANES = {types.float64: 32, types.float32: 64}
"""Lanes of a full vector, by dtype: 256 bytes (four AVX-512 registers), one block of samples."""

_I32 = ir.IntType(32)


class Vec(types.Type):
    """A vector of ``count`` numbers of ``dtype``."""

    def __init__(self, dtype, count):
        self.dtype = dtype
        self.count = count
        super().__init__(name=f"Vec({dtype}, {count})")


@register_model(Vec)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        be_type = ir.VectorType(dmm.lookup(fe_type.dtype).get_value_type(), fe_type.count)
        super().__init__(dmm, fe_type, be_type)


def _dtype_of(ty):
    return ty.dtype if isinstance(ty, types.Array | types.CPointer | Vec) else ty


def _is_memory(ty):
    return isinstance(ty, types.Array | types.CPointer) and ty.dtype in LANES


def _full(ty):
    return Vec(_dtype_of(ty), LANES[_dtype_of(ty)])


def _quarter(ty):
    return Vec(_dtype_of(ty), LANES[_dtype_of(ty)] // 4)


def _vec_among(*tys):
    return next((t for t in tys if isinstance(t, Vec)), None)


def _splat(context, builder, ty, value, vty):
    """A value of Numba type ``ty`` as an LLVM value of vector type ``vty`` (scalars broadcast)."""
    if isinstance(ty, Vec):
        return value
    scalar = context.cast(builder, value, ty, vty.dtype)
    undef = ir.Constant(context.get_value_type(vty), ir.Undefined)
    one = builder.insert_element(undef, scalar, ir.Constant(_I32, 0))
    return builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(_I32, vty.count), None))


def _element_pointer(context, builder, memty, mem, offset, vty):
    if isinstance(memty, types.CPointer):
        data = mem
    else:
        data = context.make_array(memty)(context, builder, mem).data
    ptr = builder.gep(data, [offset])
    return builder.bitcast(ptr, context.get_value_type(vty).as_pointer())


def _loader(vty_of):
    def typer(typingctx, arr, offset):
        if not _is_memory(arr):
            return None
        vty = vty_of(arr)

        def codegen(context, builder, sig, args):
            ptr = _element_pointer(context, builder, sig.args[0], args[0], args[1], vty)
            return builder.load(ptr, align=arr.dtype.bitwidth // 8)

        return vty(arr, offset), codegen

    return typer


vload = intrinsic(_loader(_full))
vload.__doc__ = """The full vector ``arr.flat[offset : offset + lanes]`` (arr a C-contiguous array
or a pointer from :func:`address`)."""
vload_q = intrinsic(_loader(_quarter))
vload_q.__doc__ = "The quarter vector ``arr.flat[offset : offset + lanes // 4]``."


@intrinsic
def vstore(typingctx, arr, offset, v):
    """Write the vector v at ``arr.flat[offset:]``."""
    if not _is_memory(arr) or not isinstance(v, Vec) or v.dtype != arr.dtype:
        return None

    def codegen(context, builder, sig, args):
        ptr = _element_pointer(context, builder, sig.args[0], args[0], args[1], v)
        builder.store(args[2], ptr, align=arr.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.none(arr, offset, v), codegen


@intrinsic
def vzeros(typingctx, like):
    """A full vector of zeros of the dtype of ``like`` (an array, a vector or a scalar type)."""
    vty = _full(like)

    def codegen(context, builder, sig, args):
        return ir.Constant(context.get_value_type(vty), None)

    return vty(like), codegen


@intrinsic
def vzeros_q(typingctx, like):
    """A quarter vector of zeros of the dtype of ``like``."""
    vty = _quarter(like)

    def codegen(context, builder, sig, args):
        return ir.Constant(context.get_value_type(vty), None)

    return vty(like), codegen


@intrinsic
def vbcast(typingctx, x):
    """A full vector of the scalar x, in x's own dtype."""
    if x not in LANES:
        return None
    vty = _full(x)

    def codegen(context, builder, sig, args):
        return _splat(context, builder, sig.args[0], args[0], vty)

    return vty(x), codegen


@intrinsic
def vfill(typingctx, like, x):
    """A vector of the type of ``like`` filled with x (converted to its dtype)."""

    def codegen(context, builder, sig, args):
        return _splat(context, builder, sig.args[1], args[1], like)

    return like(like, x), codegen


@intrinsic
def vpick(typingctx, like, x64, x32):
    """A vector like ``like`` filled with x64 for float64 vectors, x32 for float32 ones
    (constants that depend on the precision: range limits, split constants)."""

    def codegen(context, builder, sig, args):
        i = 1 if like.dtype == types.float64 else 2
        return _splat(context, builder, sig.args[i], args[i], like)

    return like(like, x64, x32), codegen


def _binary(name, build, doc):
    def typer(typingctx, a, b):
        vty = _vec_among(a, b)
        if vty is None:
            return None

        def codegen(context, builder, sig, args):
            x = _splat(context, builder, sig.args[0], args[0], vty)
            y = _splat(context, builder, sig.args[1], args[1], vty)
            return build(builder, x, y)

        return vty(a, b), codegen

    typer.__name__ = name
    fn = intrinsic(typer)
    fn.__doc__ = doc
    return fn


vadd = _binary("vadd", lambda b, x, y: b.fadd(x, y), "a + b")
vsub = _binary("vsub", lambda b, x, y: b.fsub(x, y), "a - b")
vmul = _binary("vmul", lambda b, x, y: b.fmul(x, y), "a * b")
vdiv = _binary("vdiv", lambda b, x, y: b.fdiv(x, y), "a / b")


def _llvm_call(builder, name, vty_ll, args):
    fnty = ir.FunctionType(vty_ll, [vty_ll] * len(args))
    return builder.call(cgutils.get_or_insert_function(builder.module, fnty, name), args)


def _suffix(vty):
    return f"v{vty.count}f{vty.dtype.bitwidth}"


@intrinsic
def vfma(typingctx, a, b, c):
    """a * b + c, rounded once (the fused multiply-add)."""
    vty = _vec_among(a, b, c)
    if vty is None:
        return None

    def codegen(context, builder, sig, args):
        ops = [_splat(context, builder, t, v, vty) for t, v in zip(sig.args, args)]
        lt = context.get_value_type(vty)
        return _llvm_call(builder, f"llvm.fma.{_suffix(vty)}", lt, ops)

    return vty(a, b, c), codegen


def _unary(name, llvm_name, doc):
    def typer(typingctx, a):
        if not isinstance(a, Vec):
            return None

        def codegen(context, builder, sig, args):
            lt = context.get_value_type(a)
            return _llvm_call(builder, f"llvm.{llvm_name}.{_suffix(a)}", lt, [args[0]])

        return a(a), codegen

    typer.__name__ = name
    fn = intrinsic(typer)
    fn.__doc__ = doc
    return fn


vabs = _unary("vabs", "fabs", "|a|")
vfloor = _unary("vfloor", "floor", "floor(a)")


def _select(name, op):
    def typer(typingctx, a, b, x, y):
        vty = _vec_among(a, b, x, y)
        if vty is None:
            return None

        def codegen(context, builder, sig, args):
            va, vb, vx, vy = (_splat(context, builder, t, v, vty) for t, v in zip(sig.args, args))
            return builder.select(builder.fcmp_ordered(op, va, vb), vx, vy)

        return vty(a, b, x, y), codegen

    typer.__name__ = name
    fn = intrinsic(typer)
    fn.__doc__ = f"where(a {op} b, x, y), an ordered comparison (NaN compares false)."
    return fn


vsel_gt = _select("vsel_gt", ">")
vsel_ge = _select("vsel_ge", ">=")
vsel_lt = _select("vsel_lt", "<")
vsel_le = _select("vsel_le", "<=")


@intrinsic
def vsel_eq(typingctx, a, b, x, y):
    """where(a == b, x, y) (ordered)."""
    vty = _vec_among(a, b, x, y)

    def codegen(context, builder, sig, args):
        va, vb, vx, vy = (_splat(context, builder, t, v, vty) for t, v in zip(sig.args, args))
        return builder.select(builder.fcmp_ordered("==", va, vb), vx, vy)

    return vty(a, b, x, y), codegen


@intrinsic
def vpow2(typingctx, n):
    """2^n for a vector n of whole numbers in the normal exponent range (float64: -1022..1023,
    float32: -126..127), written straight into the exponent bits."""
    if not isinstance(n, Vec):
        return None

    def codegen(context, builder, sig, args):
        bits = n.dtype.bitwidth
        ity = ir.VectorType(ir.IntType(bits), n.count)
        bias, shift = (1023, 52) if bits == 64 else (127, 23)
        k = builder.fptosi(args[0], ity)
        k = builder.add(k, ir.Constant(ity, [bias] * n.count))
        k = builder.shl(k, ir.Constant(ity, [shift] * n.count))
        return builder.bitcast(k, context.get_value_type(n))

    return n(n), codegen


@intrinsic
def vsplit_exponent(typingctx, x):
    """(k, f) with x = 2^k f and f in [1, 2), for positive normal x (k as a float vector)."""
    if not isinstance(x, Vec):
        return None
    ret = types.UniTuple(x, 2)

    def codegen(context, builder, sig, args):
        bits = x.dtype.bitwidth
        n = x.count
        ity = ir.VectorType(ir.IntType(bits), n)
        bias, shift = (1023, 52) if bits == 64 else (127, 23)
        mant = (1 << shift) - 1
        raw = builder.bitcast(args[0], ity)
        k = builder.sub(
            builder.lshr(raw, ir.Constant(ity, [shift] * n)), ir.Constant(ity, [bias] * n)
        )
        fbits = builder.or_(
            builder.and_(raw, ir.Constant(ity, [mant] * n)), ir.Constant(ity, [bias << shift] * n)
        )
        f = builder.bitcast(fbits, context.get_value_type(x))
        kf = builder.sitofp(k, context.get_value_type(x))
        return context.make_tuple(builder, ret, [kf, f])

    return ret(x), codegen


@intrinsic
def vmask_lanes(typingctx, v, n_valid):
    """v in its first ``n_valid`` lanes, +0 in the others (the padding of the last block)."""
    if not isinstance(v, Vec):
        return None

    def codegen(context, builder, sig, args):
        ity = ir.VectorType(ir.IntType(64), v.count)
        lanes = ir.Constant(ity, list(range(v.count)))
        limit = _splat(context, builder, sig.args[1], args[1], Vec(types.int64, v.count))
        keep = builder.icmp_signed("<", lanes, limit)
        return builder.select(keep, args[0], ir.Constant(args[0].type, None))

    return v(v, n_valid), codegen


def _quarter_of(k):
    def typer(typingctx, v):
        if not isinstance(v, Vec):
            return None
        q = Vec(v.dtype, v.count // 4)

        def codegen(context, builder, sig, args):
            idx = list(range(k * q.count, (k + 1) * q.count))
            mask = ir.Constant(ir.VectorType(_I32, q.count), idx)
            return builder.shuffle_vector(args[0], args[0], mask)

        return q(v), codegen

    typer.__name__ = f"vq{k}"
    fn = intrinsic(typer)
    fn.__doc__ = f"Quarter {k} of a full vector (lanes {k}/4 to {k + 1}/4)."
    return fn


vq0, vq1, vq2, vq3 = (_quarter_of(k) for k in range(4))


@intrinsic
def vsum(typingctx, v):
    """The sum of the lanes, halving: (lo + hi) folded down to one lane (a fixed order)."""
    if not isinstance(v, Vec):
        return None

    def codegen(context, builder, sig, args):
        x, n = args[0], v.count
        while n > 1:
            h = n // 2
            lo = builder.shuffle_vector(x, x, ir.Constant(ir.VectorType(_I32, h), list(range(h))))
            hi = builder.shuffle_vector(
                x, x, ir.Constant(ir.VectorType(_I32, h), list(range(h, n)))
            )
            x, n = builder.fadd(lo, hi), h
        return builder.extract_element(x, ir.Constant(_I32, 0))

    return v.dtype(v), codegen


@intrinsic
def lanes(typingctx, like):
    """The full vector's lane count for the dtype of ``like`` (a compile-time constant)."""
    count = LANES[_dtype_of(like)]

    def codegen(context, builder, sig, args):
        return ir.Constant(ir.IntType(64), count)

    return types.int64(like), codegen


@intrinsic
def address(typingctx, arr):
    """The data pointer of a C-contiguous array. Functions that take pointers instead of arrays
    touch no reference counts (atomic operations on memory the threads share); the array must
    outlive every use of its pointer."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, sig, args):
        return context.make_array(sig.args[0])(context, builder, args[0]).data

    return types.CPointer(arr.dtype)(arr), codegen


@intrinsic
def keep_alive(typingctx, arr):
    """Nothing, but a use of ``arr``: Numba frees an array after its last use, and a pointer
    from :func:`address` does not count as one. Call it after the last use of the pointer."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, sig, args):
        return context.get_dummy_value()

    return types.none(arr), codegen
