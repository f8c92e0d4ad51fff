import CONNX
import CProtobufC

/// Keeps a protobuf-c decoded model alive while tensors view its `raw_data`.
///
/// `@unchecked Sendable`: the decoded message is never mutated after `onnx__model_proto__unpack`
/// returns; it is freed once, in `deinit`, when the last tensor viewing it is gone.
final class DecodedModel: @unchecked Sendable {
    let model: UnsafeMutablePointer<Onnx__ModelProto>
    init(_ model: UnsafeMutablePointer<Onnx__ModelProto>) { self.model = model }
    deinit { onnx__model_proto__free_unpacked(model, nil) }
}

extension ONNXReader {
    static func read(_ file: ByteView, path: String, limits: ReaderLimits) throws -> CheckpointContents {
        guard file.count > 0 else { throw CheckpointError(.truncated, "ONNX: empty file", offset: 0) }
        // The structure without the weights; raw_data stays in the mapped file (see ONNXLayout).
        let layout = try ONNXLayout(file, limits: limits)
        let decoded: DecodedModel? = layout.structure.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return nil }
            return onnx__model_proto__unpack(nil, raw.count, base.assumingMemoryBound(to: UInt8.self)).map(DecodedModel.init)
        }
        guard let decoded else {
            let (offset, why) = ProtobufWire.firstProblem(file, 0 ..< file.count, message: "ModelProto") ?? (0, "ModelProto: a field has the wrong type or encoding")
            throw CheckpointError(.malformed, "ONNX: protobuf decoding failed: \(why)", offset: offset)
        }
        let m = decoded.model.pointee
        var metadata: [(key: String, value: String)] = []
        if m.has_ir_version != 0 { metadata.append(("ir_version", String(m.ir_version))) }
        if let s = m.producer_name { metadata.append(("producer_name", String(cString: s))) }
        if let s = m.producer_version { metadata.append(("producer_version", String(cString: s))) }
        if let s = m.domain, s.pointee != 0 { metadata.append(("domain", String(cString: s))) }
        if m.has_model_version != 0 { metadata.append(("model_version", String(m.model_version))) }
        for i in 0 ..< m.n_metadata_props {
            guard let e = m.metadata_props[i]?.pointee else { continue }
            metadata.append((e.key.map { String(cString: $0) } ?? "", e.value.map { String(cString: $0) } ?? ""))
        }
        var opsets: [(domain: String, version: Int)] = []
        for i in 0 ..< m.n_opset_import {
            guard let o = m.opset_import[i]?.pointee else { continue }
            opsets.append((o.domain.map { String(cString: $0) } ?? "", Int(o.version)))
        }
        // ONNX requires both; checking them also catches files cut at a top-level field boundary
        // (protobuf has no end marker), since writers put opset_import after the graph.
        guard m.has_ir_version != 0, !opsets.isEmpty else {
            throw CheckpointError(.malformed, "ONNX: model has no ir_version or no opset_import (truncated?)", offset: file.count)
        }
        guard let g = m.graph?.pointee else {
            throw CheckpointError(.malformed, "ONNX: model has no graph", offset: 0)
        }
        guard g.n_node <= limits.maxNodes else {
            throw CheckpointError(.limitExceeded, "ONNX: \(g.n_node) nodes exceed the limit \(limits.maxNodes)", offset: 0)
        }
        guard g.n_initializer <= limits.maxTensors else {
            throw CheckpointError(.limitExceeded, "ONNX: \(g.n_initializer) initializers exceed the limit \(limits.maxTensors)", offset: 0)
        }
        var externals: [String: ByteView] = [:]
        var tensors: [Tensor] = []
        for i in 0 ..< g.n_initializer {
            guard let t = g.initializer[i] else { continue }
            let name = t.pointee.name.map { String(cString: $0) } ?? ""
            do {
                let raw = try layout.initializerRaw[i].map { try file.slice($0.lowerBound, $0.count, "raw_data") }
                tensors.append(try tensor(t, name: name, what: "initializer \"\(name)\"", raw: raw, owner: decoded, path: path, limits: limits, externals: &externals))
            } catch var e as CheckpointError where e.offset == nil {
                let offsets = ProtobufWire.locate(file).initializers
                e.offset = i < offsets.count ? offsets[i] : nil
                throw e
            }
        }
        var nodes: [(name: String, opType: String)] = []
        for i in 0 ..< g.n_node {
            guard let n = g.node[i]?.pointee else { continue }
            let op = n.op_type.map { String(cString: $0) } ?? ""
            let nodeName = n.name.map { String(cString: $0) } ?? ""
            nodes.append((nodeName, op))
            let domain = n.domain.map { String(cString: $0) } ?? ""
            guard op == "Constant", domain.isEmpty || domain == "ai.onnx", n.n_output >= 1, let out = n.output[0] else { continue }
            let outName = String(cString: out)
            for a in 0 ..< n.n_attribute {
                guard let attr = n.attribute[a]?.pointee, let an = attr.name else { continue }
                let attrName = String(cString: an)
                if let scalar = try constantScalars(attr, attrName, name: outName, path: path, limits: limits) {
                    guard tensors.count < limits.maxTensors else {
                        throw CheckpointError(.limitExceeded, "ONNX: more than \(limits.maxTensors) tensors", offset: 0)
                    }
                    tensors.append(scalar)
                    continue
                }
                guard attrName == "value", let t = attr.t else { continue }
                guard tensors.count < limits.maxTensors else {
                    throw CheckpointError(.limitExceeded, "ONNX: more than \(limits.maxTensors) tensors", offset: 0)
                }
                do {
                    let raw = try layout.attributeRaw[i]?[a].map { try file.slice($0.lowerBound, $0.count, "raw_data") }
                    tensors.append(try tensor(t, name: outName, what: "Constant node \"\(nodeName)\" (output \"\(outName)\")", raw: raw, owner: decoded, path: path, limits: limits, externals: &externals))
                } catch var e as CheckpointError where e.offset == nil {
                    let offsets = ProtobufWire.locate(file).nodes
                    e.offset = i < offsets.count ? offsets[i] : nil
                    throw e
                }
            }
        }
        func names(_ list: UnsafeMutablePointer<UnsafeMutablePointer<Onnx__ValueInfoProto>?>?, _ n: Int) -> [String] {
            (0 ..< n).compactMap { list?[$0]?.pointee.name.map { String(cString: $0) } }
        }
        let graph = GraphSummary(opsets: opsets, name: g.name.map { String(cString: $0) } ?? "", nodes: nodes,
                                 inputs: names(g.input, g.n_input), outputs: names(g.output, g.n_output))
        let others = externals.sorted { $0.key < $1.key }.map { CheckpointFile(path: $0.key, bytes: $0.value) }
        return CheckpointContents(tensors: tensors, metadata: metadata, graph: graph, otherFiles: others)
    }

    /// A `Constant` node's `value_float`, `value_floats`, `value_int` or `value_ints` as a tensor (F32
    /// or I64, scalar or 1-D); nil for any other attribute.
    static func constantScalars(_ attr: Onnx__AttributeProto, _ attrName: String, name: String, path: String, limits: ReaderLimits) throws -> Tensor? {
        switch attrName {
        case "value_float":
            let bits = attr.f.bitPattern
            return Tensor(name: name, dtype: .f32, shape: [], data: ByteStorage(copying: (0 ..< 4).map { UInt8(truncatingIfNeeded: bits >> (8 * UInt32($0))) }).view, file: path)
        case "value_int":
            let bits = UInt64(bitPattern: attr.i)
            return Tensor(name: name, dtype: .i64, shape: [], data: ByteStorage(copying: (0 ..< 8).map { UInt8(truncatingIfNeeded: bits >> (8 * UInt64($0))) }).view, file: path)
        case "value_floats":
            let n = attr.n_floats
            let storage = ByteStorage.filling(count: 4 * n) { out in
                for k in 0 ..< n { out.storeBytes(of: attr.floats[k].bitPattern.littleEndian, toByteOffset: 4 * k, as: UInt32.self) }
            }
            return Tensor(name: name, dtype: .f32, shape: [n], data: storage.view, file: path)
        case "value_ints":
            let n = attr.n_ints
            let storage = ByteStorage.filling(count: 8 * n) { out in
                for k in 0 ..< n { out.storeBytes(of: attr.ints[k].littleEndian, toByteOffset: 8 * k, as: Int64.self) }
            }
            return Tensor(name: name, dtype: .i64, shape: [n], data: storage.view, file: path)
        default:
            return nil
        }
    }

    /// One TensorProto as a ``Tensor``.
    /// - Parameter raw: the tensor's `raw_data` in the mapped file, if the layout walk found one.
    static func tensor(_ tp: UnsafeMutablePointer<Onnx__TensorProto>, name: String, what: String, raw: ByteView?, owner: DecodedModel, path: String,
                       limits: ReaderLimits, externals: inout [String: ByteView]) throws -> Tensor {
        let t = tp.pointee
        guard t.n_dims <= limits.maxRank else {
            throw CheckpointError(.limitExceeded, "ONNX: \(what): rank \(t.n_dims) exceeds the limit \(limits.maxRank)")
        }
        var shape: [Int] = []
        for i in 0 ..< t.n_dims {
            let d = t.dims[i]
            guard d >= 0, let v = Int(exactly: d) else { throw CheckpointError(.malformed, "ONNX: \(what): negative dimension \(d)") }
            shape.append(v)
        }
        guard let dtype = dtype(t.data_type) else {
            throw CheckpointError(.unsupportedDType, "ONNX: \(what): data type \(t.data_type) is not supported")
        }
        let n = try ShapeMath.byteCount(shape: shape, width: dtype.byteWidth, limits: limits, "ONNX: \(what)")
        let count = n / max(dtype.byteWidth, 1)
        if t.has_data_location != 0 && t.data_location == 1 {
            var location: String?, offset = 0, length: Int?
            for i in 0 ..< t.n_external_data {
                guard let e = t.external_data[i]?.pointee, let k = e.key, let v = e.value else { continue }
                let key = String(cString: k), value = String(cString: v)
                switch key {
                case "location": location = value
                case "offset", "length":
                    guard let x = Int(value), x >= 0 else { throw CheckpointError(.malformed, "ONNX: \(what): external data \(key) \"\(value)\" is not a non-negative integer") }
                    if key == "offset" { offset = x } else { length = x }
                default: break
                }
            }
            guard let location else { throw CheckpointError(.malformed, "ONNX: \(what): external data without a location") }
            let real = try externalPath(location, modelPath: path, what: "ONNX: \(what)")
            let mapped: ByteView
            if let m = externals[real] { mapped = m } else {
                mapped = try ByteStorage.map(path: real).view
                externals[real] = mapped
            }
            let len = length ?? n
            guard len == n else {
                throw CheckpointError(.malformed, "ONNX: \(what): external data length \(len) but \(dtype) × \(shape) needs \(n)", offset: offset, file: location)
            }
            do {
                return Tensor(name: name, dtype: dtype, shape: shape, data: try mapped.slice(offset, len, "ONNX: \(what): external data"), file: real)
            } catch let e as CheckpointError { throw e.inFile(location) }
        }
        if t.has_raw_data != 0, let raw {
            guard raw.count == n else {
                throw CheckpointError(.malformed, "ONNX: \(what): raw_data has \(raw.count) bytes but \(dtype) × \(shape) needs \(n)")
            }
            return Tensor(name: name, dtype: dtype, shape: shape, data: raw, file: path)
        }
        if t.has_raw_data != 0 {
            guard t.raw_data.len == n else {
                throw CheckpointError(.malformed, "ONNX: \(what): raw_data has \(t.raw_data.len) bytes but \(dtype) × \(shape) needs \(n)")
            }
            let storage = ByteStorage(base: UnsafeRawPointer(t.raw_data.data), count: n, release: { _, _ in withExtendedLifetime(owner) {} })
            return Tensor(name: name, dtype: dtype, shape: shape, data: storage.view, file: path)
        }
        // Typed fields, converted to little-endian bytes.
        func check(_ have: Int, _ field: String) throws {
            guard have == count else {
                throw CheckpointError(.malformed, "ONNX: \(what): \(field) has \(have) values but shape \(shape) needs \(count)")
            }
        }
        let storage: ByteStorage
        switch dtype {
        case .f32:
            try check(t.n_float_data, "float_data")
            storage = ByteStorage.filling(count: n) { out in
                for i in 0 ..< count { out.storeBytes(of: t.float_data[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
            }
        case .f64:
            try check(t.n_double_data, "double_data")
            storage = ByteStorage.filling(count: n) { out in
                for i in 0 ..< count { out.storeBytes(of: t.double_data[i].bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self) }
            }
        case .i64:
            try check(t.n_int64_data, "int64_data")
            storage = ByteStorage.filling(count: n) { out in
                for i in 0 ..< count { out.storeBytes(of: t.int64_data[i].littleEndian, toByteOffset: 8 * i, as: Int64.self) }
            }
        case .u32, .u64:
            try check(t.n_uint64_data, "uint64_data")
            let w = dtype.byteWidth
            storage = ByteStorage.filling(count: n) { out in
                for i in 0 ..< count {
                    let v = t.uint64_data[i]
                    for b in 0 ..< w { out[w * i + b] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(b))) }
                }
            }
        default:
            // int32_data carries every type of 32 bits or fewer (f16/bf16 as their bit patterns).
            try check(t.n_int32_data, "int32_data")
            let w = dtype.byteWidth
            storage = ByteStorage.filling(count: n) { out in
                for i in 0 ..< count {
                    let v = UInt32(bitPattern: t.int32_data[i])
                    for b in 0 ..< w { out[w * i + b] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(b))) }
                }
            }
        }
        return Tensor(name: name, dtype: dtype, shape: shape, data: storage.view, file: path)
    }
}
