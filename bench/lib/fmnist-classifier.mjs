// A small CNN classifier of Fashion-MNIST, trained on the real training
// images, used to judge class-conditional samples: a sample of "a sneaker"
// counts as right when the classifier calls it a sneaker. Its accuracy on
// the real test images (and on their tokenizer reconstructions) says how far
// to trust that judgement.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
// The tfjs instance the vqkit packages use (the engine registers its backends there).
const tf = createRequire(path.join(here, '../../packages/prior/package.json'))('@tensorflow/tfjs');

/** conv(16) → pool → conv(32) → pool → dense(64) → softmax(10). */
function buildModel(seed) {
  const init = (s) => tf.initializers.glorotUniform({ seed: seed + s });
  const model = tf.sequential();
  model.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: init(2) }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init(3) }));
  model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(4) }));
  model.compile({ optimizer: tf.train.adam(2e-3), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

/** Float NHWC tensor of `count` 28×28 images starting at image `start` of a uint8 stack. */
function imagesTensor(pixels, start, count) {
  const data = new Float32Array(count * 784);
  for (let i = 0; i < data.length; i++) data[i] = pixels[start * 784 + i] / 255;
  return tf.tensor4d(data, [count, 28, 28, 1]);
}

/**
 * Trains the classifier on `train` ({ pixels: Uint8Array N×784, labels }) and
 * returns { predict(images: Float32Array[]) → Int32Array, accuracy(pixels, labels), dispose, seconds }.
 */
export async function trainFmnistClassifier(train, { images = 20000, epochs = 2, batchSize = 128, seed = 0 } = {}) {
  const n = Math.min(images, train.labels.length);
  const model = buildModel(seed);
  const t0 = performance.now();
  const x = imagesTensor(train.pixels, 0, n);
  const y = tf.tensor1d(Array.from(train.labels.subarray(0, n)), 'float32');
  await model.fit(x, y, { epochs, batchSize, shuffle: true, verbose: 0 });
  x.dispose();
  y.dispose();
  const seconds = (performance.now() - t0) / 1000;

  /** Class of each image (Float32Array of 784 values in [0, 1]). */
  const predict = (imgs) => {
    const out = new Int32Array(imgs.length);
    for (let s = 0; s < imgs.length; s += 500) {
      const chunk = imgs.slice(s, s + 500);
      const data = new Float32Array(chunk.length * 784);
      chunk.forEach((img, i) => data.set(img, i * 784));
      const classes = tf.tidy(() => model.predict(tf.tensor4d(data, [chunk.length, 28, 28, 1])).argMax(-1).dataSync());
      out.set(classes, s);
    }
    return out;
  };
  /** Fraction of `count` images of a uint8 stack classified as their label. */
  const accuracy = (pixels, labels, count = labels.length) => {
    const imgs = Array.from({ length: count }, (_, i) => Float32Array.from(pixels.subarray(i * 784, (i + 1) * 784), (v) => v / 255));
    const pred = predict(imgs);
    let right = 0;
    for (let i = 0; i < count; i++) if (pred[i] === labels[i]) right++;
    return right / count;
  };
  return { predict, accuracy, seconds, dispose: () => model.dispose() };
}
