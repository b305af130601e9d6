/**
 * A minimal module system over tfjs variables, in the spirit of torch.nn:
 * a module owns named variables (trainable parameters and non-trainable
 * buffers such as EMA statistics) and child modules. Names are dotted paths
 * (`encoder.res0.conv1.weight`) and are what weight files store, so they are
 * part of the model-file format: do not rename casually.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors.js';

export abstract class Module {
  private readonly ownVariables = new Map<string, { variable: tf.Variable; trainable: boolean }>();
  private readonly childModules = new Map<string, Module>();

  /** Registers a variable initialised from `initial` (which the module takes ownership of). */
  protected addVariable(name: string, initial: tf.Tensor, trainable = true): tf.Variable {
    if (this.ownVariables.has(name) || this.childModules.has(name)) {
      throw new InvalidArgumentError(`duplicate module member '${name}'`);
    }
    const variable = tf.variable(initial, trainable);
    initial.dispose();
    this.ownVariables.set(name, { variable, trainable });
    return variable;
  }

  /** Registers a child module under `name`. */
  protected addModule<M extends Module>(name: string, module: M): M {
    if (this.ownVariables.has(name) || this.childModules.has(name)) {
      throw new InvalidArgumentError(`duplicate module member '${name}'`);
    }
    this.childModules.set(name, module);
    return module;
  }

  /** All variables of this module and its children, depth first, with dotted names. */
  namedVariables(prefix = ''): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [name, { variable }] of this.ownVariables) out.push([prefix + name, variable]);
    for (const [name, child] of this.childModules) out.push(...child.namedVariables(`${prefix}${name}.`));
    return out;
  }

  /** Variables the optimizer updates. */
  trainableVariables(): tf.Variable[] {
    const out: tf.Variable[] = [];
    for (const { variable, trainable } of this.ownVariables.values()) if (trainable) out.push(variable);
    for (const child of this.childModules.values()) out.push(...child.trainableVariables());
    return out;
  }

  /** Number of scalar parameters (trainable only unless `all`). */
  parameterCount(all = false): number {
    let n = 0;
    for (const { variable, trainable } of this.ownVariables.values()) if (all || trainable) n += variable.size;
    for (const child of this.childModules.values()) n += child.parameterCount(all);
    return n;
  }

  /** Copies values into the variables; every variable must be present with the same shape. */
  loadState(state: ReadonlyMap<string, tf.Tensor>): void {
    const named = this.namedVariables();
    for (const [name, variable] of named) {
      const value = state.get(name);
      if (!value) throw new InvalidArgumentError(`missing weight '${name}'`);
      if (value.shape.join('x') !== variable.shape.join('x')) {
        throw new InvalidArgumentError(`weight '${name}' has shape [${value.shape}] but the model expects [${variable.shape}]`);
      }
      variable.assign(value.dtype === variable.dtype ? value : value.cast(variable.dtype));
    }
  }

  dispose(): void {
    for (const { variable } of this.ownVariables.values()) variable.dispose();
    for (const child of this.childModules.values()) child.dispose();
    this.ownVariables.clear();
    this.childModules.clear();
  }
}
