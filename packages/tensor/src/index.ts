// @seekr/tensor: the public API.
import "./methods.js";

export { Tensor, Storage, tensor, empty, zeros, ones, full, scalar, zerosLike, onesLike, arange, copyTo, shapeStr } from "./tensor.js";
export type { GradNode, TensorData, TensorOptions, NestedArray } from "./tensor.js";
export type { DType } from "./dtype.js";
export { DTYPES, f32ToBf16Bits, bf16BitsToF32, f32ToF16Bits, f16BitsToF32 } from "./dtype.js";
export { CPU, parseDevice, deviceName, devices, resolveDevice, setThreads } from "./device.js";
export type { Device, DeviceLike, DeviceReport } from "./device.js";
export { tidy, dispose, memory, resetPeakMemory } from "./scope.js";
export type { MemoryInfo } from "./scope.js";
export { backward, noGrad, enableGrad, isGradEnabled, grad, valueAndGrad, record } from "./autograd.js";
export type { BackwardOptions } from "./autograd.js";
export * from "./ops/elementwise.js";
export { sum, mean, max, maxWithIndices, argmax, softmax, logSoftmax, sumToShape } from "./ops/reduce.js";
export type { ReduceOptions } from "./ops/reduce.js";
export * from "./ops/layout.js";
export { matmul, linear, setGemmBackend } from "./ops/matmul.js";
export type { MatmulOptions, GemmBackend } from "./ops/matmul.js";
export { crossEntropy, rmsNorm, rope, attention, attentionTapped, attentionDistill, attentionEager, attentionEagerProbs } from "./ops/nn.js";
export type { CrossEntropyOptions, RopeOptions, AttentionOptions, AttentionTapOptions, AttentionResult, AttentionDistillOptions } from "./ops/nn.js";
export { AdamW, SGD, clipGradNorm } from "./optim.js";
export type { AdamWOptions, SGDOptions } from "./optim.js";
export { Generator, manualSeed, randn, rand } from "./random.js";
export { loadSafetensors, saveSafetensors, readSafetensorsHeader } from "./safetensors.js";
export type { SafetensorsEntry, SafetensorsHeader, LoadOptions } from "./safetensors.js";
