// A small ONNX graph builder over onnx-proto: named values, nodes with typed attributes,
// constant initializers, and serialization to ModelProto bytes (opset 17). Every graph the
// engine runs is built through this; nothing hand-encodes protobuf.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

export type FloatType = 'float32' | 'float64';
export type ElemType = FloatType | 'int64' | 'bool';
export type Dim = number | string;

/** Attribute values: integers and integer lists are INT/INTS; wrap floats as { f }. */
export type Attr = number | number[] | { f: number } | string;

const ELEM: Record<ElemType, number> = { float32: DT.FLOAT, float64: DT.DOUBLE, int64: DT.INT64, bool: DT.BOOL };

export class GraphBuilder {
  private nodes: onnxProto.onnx.INodeProto[] = [];
  private inits: onnxProto.onnx.ITensorProto[] = [];
  private inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private counter = 0;
  private constCache = new Map<string, string>();

  constructor(readonly name: string, readonly dtype: FloatType) {}

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  input(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(value: string, name: string, type: ElemType, dims: Dim[]): void {
    this.op('Identity', [value], {}, name);
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A constant initializer (deduplicated by content for small ones). */
  constant(values: ArrayLike<number>, dims: number[], type: ElemType = this.dtype): string {
    const key = values.length <= 64 ? `${type}|${dims.join(',')}|${Array.from(values).join(',')}` : '';
    if (key && this.constCache.has(key)) return this.constCache.get(key)!;
    const name = this.fresh('const');
    const t: onnxProto.onnx.ITensorProto = { name, dims, dataType: ELEM[type] };
    if (type === 'float32') t.rawData = new Uint8Array(Float32Array.from(values).buffer);
    else if (type === 'float64') t.rawData = new Uint8Array(Float64Array.from(values).buffer);
    else if (type === 'int64') t.rawData = new Uint8Array(BigInt64Array.from(Array.from(values), (v) => BigInt(v)).buffer);
    else t.rawData = Uint8Array.from(values);
    this.inits.push(t);
    if (key) this.constCache.set(key, name);
    return name;
  }

  scalar(v: number): string {
    return this.constant([v], []);
  }

  ints(v: number[]): string {
    return this.constant(v, [v.length], 'int64');
  }

  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, outName?: string): string {
    const out = outName ?? this.fresh(type.toLowerCase());
    this.nodes.push({ opType: type, input: inputs, output: [out], name: this.fresh('n_' + type), attribute: encodeAttrs(attrs) });
    return out;
  }

  // Shorthands for the ops the model uses most.
  add(a: string, b: string): string { return this.op('Add', [a, b]); }
  sub(a: string, b: string): string { return this.op('Sub', [a, b]); }
  mul(a: string, b: string): string { return this.op('Mul', [a, b]); }
  matmul(a: string, b: string): string { return this.op('MatMul', [a, b]); }
  /** 2-D a @ b with optional transposes: Gemm(transA, transB). */
  gemm(a: string, b: string, transA = 0, transB = 0): string { return this.op('Gemm', [a, b], { transA, transB }); }
  transpose(a: string, perm: number[]): string { return this.op('Transpose', [a], { perm }); }
  reshape(a: string, shape: string): string { return this.op('Reshape', [a, shape]); }
  reduceSum(a: string, axes: number[] | null, keepdims: number): string {
    return axes ? this.op('ReduceSum', [a, this.ints(axes)], { keepdims }) : this.op('ReduceSum', [a], { keepdims });
  }

  toBytes(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      producerName: 'limolab-engine',
      graph: { name: this.name, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: ElemType, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: ELEM[type], shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function encodeAttrs(attrs: Record<string, Attr>): onnxProto.onnx.IAttributeProto[] {
  return Object.entries(attrs).map(([name, v]) => {
    if (typeof v === 'number') return { name, type: AT.INT, i: v };
    if (typeof v === 'string') return { name, type: AT.STRING, s: new TextEncoder().encode(v) };
    if (Array.isArray(v)) return { name, type: AT.INTS, ints: v };
    return { name, type: AT.FLOAT, f: v.f };
  });
}
