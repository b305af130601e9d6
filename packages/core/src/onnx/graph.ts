/**
 * A small ONNX graph writer: build a graph node by node from TypeScript and
 * serialise it as an ONNX `ModelProto` (the protobuf messages come from the
 * `onnx-proto` package, generated from the official onnx.proto).
 *
 * Values are referred to by name (plain strings). `input`, `initializer` and
 * `node` return the name of what they create, so a graph reads like the
 * forward pass it mirrors:
 *
 *   const g = new OnnxGraphBuilder('encoder');
 *   const x = g.input('images', 'float32', ['batch', 'height', 'width', 1]);
 *   const w = g.initializer('down0.weight', weightData, [64, 1, 4, 4]);
 *   const y = g.node('Conv', [x, w], { strides: [2, 2], auto_pad: 'SAME_UPPER' });
 *   g.output(y, 'latents', 'float32', ['batch', 'h', 'w', 64]);
 *   fs.writeFileSync('encoder.onnx', g.toBytes());
 *
 * Attributes: integers and integer arrays become INT/INTS, strings STRING,
 * and floats must be wrapped with {@link onnxFloat} / {@link onnxFloats}
 * (a JavaScript number does not say whether `1` is an int or a float).
 *
 * Opset: {@link DEFAULT_OPSET} (17, the first with LayerNormalization) and
 * IR version 8; both are stamped into the model.
 */
import onnxProto from 'onnx-proto';
import { InvalidArgumentError } from '../errors.js';

const { onnx } = onnxProto;

/** The default-domain opset the exporters target. */
export const DEFAULT_OPSET = 17;
/** ONNX IR version written (IR 8 carries opsets up to 18). */
export const ONNX_IR_VERSION = 8;

/** Element types the writer supports. */
export type OnnxElementType = 'float32' | 'int32' | 'int64' | 'bool';

const ELEMENT_TYPE: Record<OnnxElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** A dimension: a fixed size or a symbolic name (dynamic axis, e.g. `'batch'`). */
export type OnnxDim = number | string;

/** A float attribute value (see the module comment on why floats are wrapped). */
export interface OnnxFloat {
  readonly kind: 'float';
  readonly value: number;
}
/** A float-list attribute value. */
export interface OnnxFloats {
  readonly kind: 'floats';
  readonly values: readonly number[];
}

export function onnxFloat(value: number): OnnxFloat {
  return { kind: 'float', value };
}
export function onnxFloats(values: readonly number[]): OnnxFloats {
  return { kind: 'floats', values };
}

export type OnnxAttributeValue = number | readonly number[] | string | OnnxFloat | OnnxFloats;

/** Data of an initializer or constant. */
export type OnnxTensorData = Float32Array | Int32Array | BigInt64Array;

function elementTypeOf(data: OnnxTensorData): OnnxElementType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  return 'int64';
}

function tensorProto(name: string, data: OnnxTensorData, dims: readonly number[]): onnxProto.onnx.ITensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new InvalidArgumentError(`ONNX tensor ${name}: ${data.length} values do not fill dims [${dims}]`);
  // raw_data is little-endian, which is every platform Node runs on.
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { name, dims: [...dims], dataType: ELEMENT_TYPE[elementTypeOf(data)], rawData: bytes.slice() };
}

function valueInfo(name: string, type: OnnxElementType, shape: readonly OnnxDim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPE[type],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: OnnxAttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new InvalidArgumentError(`ONNX attribute ${name}=${value}: wrap float attributes with onnxFloat()`);
    return { name, type: T.INT, i: value };
  }
  if (Array.isArray(value)) {
    const ints = value as readonly number[];
    if (!ints.every(Number.isInteger)) throw new InvalidArgumentError(`ONNX attribute ${name}: wrap float lists with onnxFloats()`);
    return { name, type: T.INTS, ints: [...ints] };
  }
  const wrapped = value as OnnxFloat | OnnxFloats;
  if (wrapped.kind === 'float') return { name, type: T.FLOAT, f: wrapped.value };
  return { name, type: T.FLOATS, floats: [...wrapped.values] };
}

/** Options of {@link OnnxGraphBuilder.toBytes}. */
export interface OnnxModelOptions {
  /** Default-domain opset. Default {@link DEFAULT_OPSET}. */
  opset?: number;
  /** `producer_name`. Default 'vqkit'. */
  producerName?: string;
  /** `producer_version`. */
  producerVersion?: string;
  /** Free-text `doc_string` of the model. */
  docString?: string;
  /** `metadata_props` (string key/value pairs readable from ONNX Runtime's session metadata). */
  metadata?: Record<string, string>;
}

/** Builds one ONNX graph; see the module comment. */
export class OnnxGraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  private claim(name: string): string {
    if (this.names.has(name)) throw new InvalidArgumentError(`ONNX graph ${this.name}: the value name '${name}' is already taken`);
    this.names.add(name);
    return name;
  }

  /** An unused value name with a readable prefix (not yet claimed). */
  uniqueName(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`;
    while (this.names.has(name));
    return name;
  }

  /** Declares a graph input; returns its name. */
  input(name: string, type: OnnxElementType, shape: readonly OnnxDim[]): string {
    this.inputs.push(valueInfo(this.claim(name), type, shape));
    return name;
  }

  /** Adds a constant tensor (weights) to the graph; returns its name. */
  initializer(name: string, data: OnnxTensorData, dims: readonly number[]): string {
    this.initializers.push(tensorProto(this.claim(name), data, dims));
    return name;
  }

  /** A constant under a generated name (shapes, axes, scalars). */
  constant(data: OnnxTensorData, dims: readonly number[], prefix = 'const'): string {
    return this.initializer(this.uniqueName(prefix), data, dims);
  }

  /** An int64 1-D constant (Reshape shapes, Unsqueeze axes, Slice bounds…). */
  int64s(values: readonly number[], prefix = 'ints'): string {
    return this.constant(BigInt64Array.from(values, (v) => BigInt(v)), [values.length], prefix);
  }

  /** A float32 scalar constant. */
  scalar(value: number, prefix = 'scalar'): string {
    return this.constant(Float32Array.of(value), [], prefix);
  }

  /**
   * Adds a node with one output; returns the output's name (generated from
   * the op type unless `output` is given). Empty-string inputs stand for
   * omitted optional inputs, as in ONNX.
   */
  node(opType: string, inputs: readonly string[], attributes: Record<string, OnnxAttributeValue> = {}, output?: string): string {
    return this.nodeMulti(opType, inputs, [output ?? this.uniqueName(opType.toLowerCase())], attributes)[0]!;
  }

  /** Adds a node with several named outputs (see {@link uniqueName}); returns them. */
  nodeMulti(opType: string, inputs: readonly string[], outputs: readonly string[], attributes: Record<string, OnnxAttributeValue> = {}): string[] {
    for (const input of inputs) {
      if (input !== '' && !this.names.has(input)) throw new InvalidArgumentError(`ONNX graph ${this.name}: ${opType} reads '${input}', which nothing defines`);
    }
    const outs = outputs.map((o) => this.claim(o));
    this.nodes.push({
      opType,
      name: `${opType}_${this.nodes.length}`,
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /**
   * Declares `value` a graph output named `name` (an Identity node renames it
   * when the names differ); returns the output name.
   */
  output(value: string, name: string, type: OnnxElementType, shape: readonly OnnxDim[]): string {
    if (value !== name) this.node('Identity', [value], {}, name);
    this.outputs.push(valueInfo(name, type, shape));
    return name;
  }

  /** The serialised `ModelProto`. */
  toBytes(options: OnnxModelOptions = {}): Uint8Array {
    const model: onnxProto.onnx.IModelProto = {
      irVersion: ONNX_IR_VERSION,
      producerName: options.producerName ?? 'vqkit',
      producerVersion: options.producerVersion ?? '',
      docString: options.docString ?? '',
      opsetImport: [{ domain: '', version: options.opset ?? DEFAULT_OPSET }],
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
      },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}

/** Decodes a serialised model (for inspection and tests). */
export function readOnnxModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
