import VLAFormat

/// What `vlac dump` prints about a verified file, as text or as JSON.
struct FileReport {
    /// Version of the JSON output's shape (Schemas/vla-dump.schema.json).
    static let jsonFormatVersion = 1

    let path: String
    let file: VLAFile

    /// The number format of the matrix products: the provenance's `precision` option (a policy whose backbone
    /// sits in a shared blob records it there), else from the file's weights (`int8` when any is i8, `bf16` when
    /// any is bf16), else `fp32`.
    var precision: String {
        if let p = file.provenance.options.first(where: { $0.key == "precision" }) { return p.value }
        let types = Set(file.tensors.map(\.type.dtype))
        return types.contains(.i8) ? "int8" : types.contains(.bf16) ? "bf16" : "fp32"
    }

    // MARK: Text

    func text() -> String {
        var out = ""
        func line(_ s: String = "") { out += s + "\n" }
        let h = file.header
        line("file      \(escaped(path))")
        line("format    \(h.major).\(h.minor)  \(h.isSharedBlob ? "shared blob" : "policy")  flags 0x\(String(h.flags, radix: 16))  \(file.byteCount) bytes")
        line("digest    sha256:\(hexString(file.digest)) (verified)")
        line("identity  sha256:\(hexString(file.contentHash())) (whole file; what policies reference)")
        let m = file.metadata
        // What a robot integrator checks first (vla_policy_string gives the same values to C).
        let crop = m.image.crop == .none ? "none" : "\(m.image.crop) \(m.image.cropArea)"
        if h.isSharedBlob {
            line("summary   shared blob \(quoted(m.role)): precision \(precision), model \(quoted(m.model.name)), format \(h.major).\(h.minor)")
        } else {
            line("summary   \(quoted(m.instruction)): robot \(m.action.robot), crop \(crop), precision \(precision), model \(quoted(m.model.name)), format \(h.major).\(h.minor)")
        }
        line()
        line("metadata")
        line("  role         \(quoted(m.role))")
        line("  instruction  \(quoted(m.instruction))")
        line("  model        \(quoted(m.model.name)) sha256:\(hexString(m.model.digest))")
        let a = m.action
        if a.actionDim > 0 {
            line("  action       \(a.actionDim) dims × horizon \(a.horizon)")
            line("    squash       \(a.squashedDims == 0 ? "none" : "dims 0..<\(a.squashedDims): \(a.squashBound)·tanh(x/\(a.effectiveSquashScale))")")
            line("    gripper      \(a.gripper)\(a.gripper == .none ? "" : " on dim \(a.gripperDim)")")
            line("    normalize    \(a.normalization)")
            line("    ensembling   \(a.ensembling)\(a.ensembling == .none ? "" : ", window \(a.ensembleWindow)")")
            line("    rotation     \(a.rotation)")
            line("    robot        \(a.robot)")
            line(a.normalization == .bounds ? "    dim  low (p01)     high (p99)    unnormalize" : "    dim  mean          std           unnormalize")
            for i in 0..<Int(a.actionDim) {
                line("    \(pad(String(i), 3))  \(pad(String(a.mean[i]), 12))  \(pad(String(a.std[i]), 12))  \(a.mask[i] ? "yes" : "no")")
            }
        } else {
            line("  action       none")
        }
        let im = m.image
        if im.height > 0 {
            line("  image        \(im.height)×\(im.width) RGB, resize \(im.resize), crop \(im.crop)\(im.crop == .none ? "" : " (area \(im.cropArea))")")
            line("    mean \(im.mean)  std \(im.std)")
        } else {
            line("  image        none")
        }
        line()
        line("provenance")
        line("  compiler     \(quoted(file.provenance.compiler))")
        for s in file.provenance.sources {
            line("  source       \(quoted(s.name)) sha256:\(hexString(s.sha256)) \(s.size) bytes")
        }
        for o in file.provenance.options {
            line("  option       \(quoted(o.key)) = \(quoted(o.value))")
        }
        line()
        line("sections (\(file.sections.count))")
        line("  kind          offset      length        share  align  required")
        for s in file.sections {
            let share = Double(s.length) / Double(max(file.byteCount, 1)) * 100
            line("  \(pad(s.kind.description, 12))  \(pad(String(s.offset), 10))  \(pad(String(s.length), 12))  \(pad(percent(share), 6))  \(pad(String(s.alignment), 5))  \(s.isRequired ? "yes" : "no")\(s.isKnown ? "" : " (unknown, skipped)")")
        }
        line()
        if file.sharedRefs.isEmpty {
            line("shared blobs: none")
        } else {
            line("shared blobs (\(file.sharedRefs.count))")
            for (i, r) in file.sharedRefs.enumerated() {
                line("  [\(i)] \(quoted(r.role)) sha256:\(hexString(r.sha256)) \(r.size) bytes")
            }
        }
        line()
        let total = file.tensors.reduce(UInt64(0)) { $0 + $1.byteCount }
        line("tensors (\(file.tensors.count), \(total) bytes)")
        line("  id    dtype  shape                 bytes        storage            name")
        for (id, t) in file.tensors.enumerated() {
            line("  \(pad("%\(id)", 4))  \(pad(t.type.dtype.description, 5))  \(pad(shapeText(t.type.shape), 20))  \(pad(String(t.byteCount), 11))  \(pad(storageText(t), 17))  \(quoted(t.name))\(t.scaleTensor.map { " scale %\($0)" } ?? "")")
        }
        line()
        line("programs (\(file.programs.count)), arena \(file.arenaSize) bytes")
        for p in file.programs {
            line("  \(quoted(p.name)): \(p.operations.count) ops")
            line("    inputs   \(p.inputs.map(operandText).joined(separator: ", "))")
            line("    outputs  \(p.outputs.map(operandText).joined(separator: ", "))")
            for (k, op) in p.operations.enumerated() {
                let attrs = attributeText(op)
                var callee = ""
                if op.opcode == .call, op.attributes.count == 2, Int(op.attributes[0]) < file.sharedRefs.count {
                    callee = "  calls program \(op.attributes[1]) of \(quoted(file.sharedRefs[Int(op.attributes[0])].role))"
                }
                line("    \(pad(String(k), 4)) \(pad(op.opcode.name, 12)) \(op.inputs.map(operandText).joined(separator: ", ")) -> \(op.outputs.map(operandText).joined(separator: ", "))\(attrs.isEmpty ? "" : "  {\(attrs)}")\(callee)")
            }
        }
        line()
        line("test vectors (\(file.testVectors.count))")
        for (i, v) in file.testVectors.enumerated() {
            let name = file.programs[v.program].name
            let inputs = v.inputs.map { "%\($0.target) ← %\($0.value)" }.joined(separator: ", ")
            let expected = v.expected.map { "%\($0.target) ≈ %\($0.value)" }.joined(separator: ", ")
            line("  [\(i)] \(quoted(name)): \(inputs); expect \(expected) within \(v.tolerance)")
        }
        return out
    }

    private func quoted(_ s: String) -> String { "\"" + escaped(s) + "\"" }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    private func percent(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }

    private func shapeText(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

    private func storageText(_ t: VLAFile.Tensor) -> String {
        switch t.storage {
        case .inline(let o): "inline @\(o)"
        case .external(let r, let i): "shared[\(r)] #\(i)"
        case .arena(let o): "arena @\(o)"
        }
    }

    private func operandText(_ id: Int) -> String { "%\(id) \(file.tensors[id].type)" }

    private func attributeText(_ op: Operation) -> String {
        attributes(op).map { "\($0.0)=\($0.1.serialized())" }.joined(separator: ", ")
    }

    /// Named, typed attributes of an op, for text and JSON.
    private func attributes(_ op: Operation) -> [(String, JSON)] {
        let a = op.attributes
        func f(_ i: Int) -> JSON { .float(Float(bitPattern: a[i])) }
        func u(_ i: Int) -> JSON { .uint(UInt64(a[i])) }
        switch op.opcode {
        case .layerNorm, .rmsNorm, .l2Normalize: return [("eps", f(0))]
        case .scaledTanh: return [("bound", f(0))]
        case .threshold: return [("t", f(0))]
        case .attention:
            let named = [("scale", f(0)), ("mask", .bool(a[1] & AttentionFlags.hasMask != 0)), ("bias", .bool(a[1] & AttentionFlags.hasBias != 0))]
            // Shown only where set, so fp32 files dump as before.
            return named + (a[1] & AttentionFlags.bf16Products != 0 ? [("bf16Products", .bool(true))] : [])
        case .patchEmbed: return [("patch", u(0))]
        case .linearI8 where a.count == 1: return [("zeroPoint", .bool(a[0] & Layout.linearI8ZeroPoint != 0))]
        case .concat: return [("axis", u(0))]
        case .slice: return [("axis", u(0)), ("start", u(1)), ("length", u(2))]
        case .call where a.count == 2: return [("sharedRef", u(0)), ("program", u(1))]
        default: return a.enumerated().map { ("a\($0.offset)", .uint(UInt64($0.element))) }
        }
    }

    // MARK: JSON

    func json() -> JSON {
        let h = file.header
        let m = file.metadata
        let a = m.action
        let im = m.image
        func hash(_ b: [UInt8]) -> JSON { .string("sha256:" + hexString(b)) }
        func floats(_ v: [Float]) -> JSON { .array(v.map { .float($0) }) }
        let tensors: [JSON] = file.tensors.enumerated().map { id, t in
            var storage: [(String, JSON)]
            switch t.storage {
            case .inline(let o): storage = [("kind", .string("inline")), ("fileOffset", .uint(o))]
            case .external(let r, let i): storage = [("kind", .string("external")), ("sharedRef", .int(Int64(r))), ("index", .int(Int64(i)))]
            case .arena(let o): storage = [("kind", .string("arena")), ("arenaOffset", .uint(o))]
            }
            var fields: [(String, JSON)] = [
                ("id", .int(Int64(id))), ("name", .string(t.name)), ("dtype", .string(t.type.dtype.description)),
                ("shape", .array(t.type.shape.map { .int(Int64($0)) })), ("bytes", .uint(t.byteCount)), ("storage", .object(storage)),
            ]
            if let s = t.scaleTensor { fields.append(("scaleTensor", .int(Int64(s)))) }
            return .object(fields)
        }
        let programs: [JSON] = file.programs.map { p in
            .object([
                ("name", .string(p.name)),
                ("inputs", .array(p.inputs.map { .int(Int64($0)) })),
                ("outputs", .array(p.outputs.map { .int(Int64($0)) })),
                ("ops", .array(p.operations.map { op in
                    .object([
                        ("op", .string(op.opcode.name)),
                        ("inputs", .array(op.inputs.map { .int(Int64($0)) })),
                        ("outputs", .array(op.outputs.map { .int(Int64($0)) })),
                        ("attributes", .object(attributes(op))),
                    ])
                })),
            ])
        }
        return .object([
            ("formatVersion", .int(Int64(FileReport.jsonFormatVersion))),
            ("file", .string(path)),
            ("header", .object([
                ("major", .int(Int64(h.major))), ("minor", .int(Int64(h.minor))), ("flags", .uint(UInt64(h.flags))),
                ("kind", .string(h.isSharedBlob ? "shared_blob" : "policy")), ("fileSize", .uint(h.fileSize)),
                ("digest", hash(file.digest)), ("contentHash", hash(file.contentHash())),
            ])),
            ("precision", .string(precision)),
            ("metadata", .object([
                ("role", .string(m.role)), ("instruction", .string(m.instruction)),
                ("model", .object([("name", .string(m.model.name)), ("digest", hash(m.model.digest))])),
                ("action", .object([
                    ("actionDim", .uint(UInt64(a.actionDim))), ("horizon", .uint(UInt64(a.horizon))),
                    ("squashedDims", .uint(UInt64(a.squashedDims))), ("squashBound", .float(a.squashBound)),
                    ("squashScale", .float(a.squashedDims == 0 ? 0 : a.effectiveSquashScale)),
                    ("gripper", .string(a.gripper.description)), ("gripperDim", .uint(UInt64(a.gripperDim))),
                    ("normalization", .string(a.normalization.description)),
                    ("mean", floats(a.mean)), ("std", floats(a.std)), ("mask", .array(a.mask.map { .bool($0) })),
                    ("ensembling", .string(a.ensembling.description)), ("ensembleWindow", .uint(UInt64(a.ensembleWindow))),
                    ("rotation", .string(a.rotation.description)), ("robot", .string(a.robot.description)),
                ])),
                ("image", .object([
                    ("height", .uint(UInt64(im.height))), ("width", .uint(UInt64(im.width))),
                    ("resize", .string(im.resize.description)), ("crop", .string(im.crop.description)),
                    ("cropArea", .float(im.cropArea)), ("mean", floats(im.mean)), ("std", floats(im.std)),
                ])),
            ])),
            ("provenance", .object([
                ("compiler", .string(file.provenance.compiler)),
                ("sources", .array(file.provenance.sources.map {
                    .object([("name", .string($0.name)), ("sha256", hash($0.sha256)), ("size", .uint($0.size))])
                })),
                ("options", .array(file.provenance.options.map { .object([("key", .string($0.key)), ("value", .string($0.value))]) })),
            ])),
            ("sections", .array(file.sections.map {
                .object([
                    ("kind", .string($0.kind.description)), ("kindCode", .uint(UInt64($0.kind.rawValue))),
                    ("offset", .uint($0.offset)), ("length", .uint($0.length)), ("alignment", .uint(UInt64($0.alignment))),
                    ("required", .bool($0.isRequired)), ("known", .bool($0.isKnown)),
                ])
            })),
            ("sharedRefs", .array(file.sharedRefs.map {
                .object([("role", .string($0.role)), ("sha256", hash($0.sha256)), ("size", .uint($0.size))])
            })),
            ("tensors", .array(tensors)),
            ("arenaSize", .uint(file.arenaSize)),
            ("programs", .array(programs)),
            ("testVectors", .array(file.testVectors.map { v in
                .object([
                    ("program", .string(file.programs[v.program].name)),
                    ("inputs", .array(v.inputs.map { .object([("target", .int(Int64($0.target))), ("value", .int(Int64($0.value)))]) })),
                    ("expected", .array(v.expected.map { .object([("target", .int(Int64($0.target))), ("value", .int(Int64($0.value)))]) })),
                    ("tolerance", .float(v.tolerance)),
                ])
            })),
        ])
    }
}
