import VLAJSON

/// Reads typed keys from a parsed `config.json`, collecting every missing or mistyped key instead of
/// stopping at the first.
struct ConfigReader {
    let json: JSONValue
    var problems = ProblemList()

    init(_ json: JSONValue) { self.json = json }

    /// A required integer (JSON number without a fraction).
    mutating func int(_ key: String, min: Int = 1) -> Int {
        guard let v = json[key] else { problems.add("config key \"\(key)\" is missing"); return min }
        return check(key, v, min: min) ?? min
    }

    /// An optional integer with a default.
    mutating func int(_ key: String, default d: Int, min: Int = 1) -> Int {
        guard let v = json[key], !v.isNull else { return d }
        return check(key, v, min: min) ?? d
    }

    private mutating func check(_ key: String, _ v: JSONValue, min: Int) -> Int? {
        guard let x = v.double, x.isFinite, x == x.rounded(), abs(x) < 1e12 else {
            problems.add("config key \"\(key)\" must be an integer, is \(v)")
            return nil
        }
        let n = Int(x)
        if n < min { problems.add("config key \"\(key)\" must be at least \(min), is \(n)"); return nil }
        if n > ModelLimits.maxDimension {
            problems.add("config key \"\(key)\" is \(n), over the limit \(ModelLimits.maxDimension)")
            return nil
        }
        return n
    }

    /// An optional number with a default.
    mutating func double(_ key: String, default d: Double) -> Double {
        guard let v = json[key], !v.isNull else { return d }
        guard let x = v.double, x.isFinite else {
            problems.add("config key \"\(key)\" must be a finite number, is \(v)")
            return d
        }
        return x
    }

    /// An optional string with a default.
    mutating func string(_ key: String, default d: String?) -> String? {
        guard let v = json[key], !v.isNull else { return d }
        guard let s = v.string else { problems.add("config key \"\(key)\" must be a string, is \(v)"); return d }
        return s
    }

    /// An optional boolean with a default.
    mutating func bool(_ key: String, default d: Bool) -> Bool {
        guard let v = json[key], !v.isNull else { return d }
        guard let b = v.bool else { problems.add("config key \"\(key)\" must be true or false, is \(v)"); return d }
        return b
    }

    /// The `architectures` list, if present.
    var architectures: [String] {
        guard let a = json["architectures"]?.array else { return [] }
        return a.compactMap(\.string)
    }
}

/// Sizes the model builders accept, checked before anything is allocated.
public enum ModelLimits {
    /// Largest value of any size key in a config (hidden size, vocabulary, layers, ...).
    public static let maxDimension = 1 << 22
    /// Most layers a model may have.
    public static let maxLayers = 256
    /// Longest token sequence.
    public static let maxSequence = 8192
    /// Largest image side in pixels.
    public static let maxImageSide = 8192
}
