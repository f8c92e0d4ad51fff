import Testing
import VLACheckpoint

@Suite struct PyTorchTests {
    @Test func stateDictMatchesTorchLoad() throws {
        let ckpt = try Checkpoint(path: Support.fixture("state_dict.pt"))
        #expect(ckpt.format == .pytorch)
        let ref = try #require(Support.reference["state_dict.pt"])
        Support.expectMatches(ckpt, ref)
        #expect(ckpt.files[0].sha256().hex == ref.sha256)
        // Contiguous tensors are views of the mapped file; the transposed view is gathered.
        #expect(try #require(ckpt["weight"]).data.storage === ckpt.files[0].bytes.storage)
        #expect(try #require(ckpt["view.rows"]).data.storage === ckpt.files[0].bytes.storage)
        #expect(try #require(ckpt["view.transposed"]).data.storage !== ckpt.files[0].bytes.storage)
    }

    @Test func huggingFacePytorchModelBinDirectory() throws {
        let ckpt = try Checkpoint(path: Support.fixture("hf-pytorch"))
        #expect(ckpt.format == .directory)
        Support.expectMatches(ckpt, try #require(Support.reference["hf-pytorch"]))
    }

    @Test func legacyFormatIsRefusedWithARemedy() throws {
        #expect {
            try Checkpoint(path: Support.fixture("legacy.pt"))
        } throws: { e in
            let e = e as? CheckpointError
            return e?.code == .legacyFormat && e?.description.contains("re-save it with torch ≥ 1.6") == true
        }
    }

    @Test func otherGlobalsAreRefusedByName() throws {
        do {
            _ = try Checkpoint(path: Support.fixture("evil.pt"))
            Issue.record("accepted")
        } catch let e as CheckpointError {
            #expect(e.code == .refusedGlobal)
            #expect(e.description.contains("global os.system is not on the allow-list"), "\(e)")
            #expect(e.description.contains("evil.pt: ") && e.offset != nil, "\(e)")
        }
    }

    @Test func everyPrefixFails() throws {
        Support.expectEveryPrefixFails(try Support.bytes(Support.fixture("state_dict.pt")), path: "state_dict.pt", format: .pytorch, stride: 7)
    }

    @Test func tenThousandSeededMutationsNeverTrap() throws {
        let (ok, bad) = Support.mutate(try Support.bytes(Support.fixture("state_dict.pt")), path: "state_dict.pt", format: .pytorch, count: Support.mutationCount(10_000), seed: 31)
        #expect(ok + bad == Support.mutationCount(10_000))
        #expect(bad > 0)
    }

    /// Mutations confined to data.pkl (the zip layout intact) exercise the pickle machine itself.
    @Test func tenThousandPickleMutationsNeverTrap() throws {
        let bytes = try Support.bytes(Support.fixture("state_dict.pt"))
        // data.pkl is the first entry, stored: its bytes follow the first local header. Stored entries
        // are CRC-checked, so each mutation re-seals the directory's CRC to reach the interpreter.
        let nameLength = Int(bytes[26]) | Int(bytes[27]) << 8, extraLength = Int(bytes[28]) | Int(bytes[29]) << 8
        let start = 30 + nameLength + extraLength
        let record = try #require(ZipPatch.centralRecord(bytes, "state_dict/data.pkl"))
        let size = Int(ZipPatch.le32(bytes, record + 20))
        try #require(size > 0)
        var rng = SplitMix64(seed: 41)
        var refused = 0
        for _ in 0 ..< Support.mutationCount(10_000) {
            var m = bytes
            for _ in 0 ..< 1 + Int(rng.next() % 3) {
                m[start + Int(rng.next() % UInt64(size))] = UInt8(truncatingIfNeeded: rng.next())
            }
            ZipPatch.put32(&m, record + 16, Craft.crc(Array(m[start ..< start + size])))
            do { _ = try Checkpoint(parsing: ByteStorage(copying: m).view, path: "m.pt", format: .pytorch) } catch is CheckpointError { refused += 1 }
        }
        #expect(refused > 1000)
    }
}

@Suite struct HostilePickleTests {
    /// Million-deep containers and self-containing lists are data, not code: they read (as a checkpoint
    /// with no tensors) or fail cleanly, and freeing them does not recurse.
    @Test(arguments: ["deep-tuples.pt", "deep-lists.pt", "cycle.pt"])
    func nestedAndCyclicContainersDoNotCrash(_ name: String) throws {
        do {
            let c = try Checkpoint(path: Support.fixture(name))
            #expect(c.tensors.isEmpty)
        } catch let e as CheckpointError {
            #expect(e.description.contains(name), "\(e)")
        }
    }
}
