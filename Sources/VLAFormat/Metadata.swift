/// Typed metadata: what the file is for and how its inputs and outputs are to be read.
public struct Metadata: Sendable, Hashable {
    /// The instruction a policy was compiled for (empty for shared blobs).
    public var instruction: String
    /// Which model the file came from.
    public var model: ModelIdentity
    /// `policy`, `backbone`, `hn-tail`, ... (free text, shown by dump, used in shared file names).
    public var role: String
    /// How the step program's output becomes a robot action.
    public var action: ActionContract
    /// How a camera frame becomes the step program's input.
    public var image: ImageContract

    /// Creates metadata.
    public init(
        instruction: String = "", model: ModelIdentity = ModelIdentity(), role: String = "",
        action: ActionContract = ActionContract(), image: ImageContract = ImageContract()
    ) {
        self.instruction = instruction
        self.model = model
        self.role = role
        self.action = action
        self.image = image
    }
}

/// The model a file was compiled from.
public struct ModelIdentity: Sendable, Hashable {
    /// A human-readable name (`hypervla-tiny`).
    public var name: String
    /// SHA-256 over the model's defining files (config and parameters), as the compiler computed it.
    public var digest: [UInt8]

    /// Creates an identity; the digest defaults to 32 zero bytes.
    public init(name: String = "", digest: [UInt8] = Array(repeating: 0, count: 32)) {
        self.name = name
        self.digest = digest
    }
}

/// How the raw action chunk `[horizon, actionDim]` from the step program becomes the executed action.
///
/// Applied by the runtime in this order: squash, gripper rule, unnormalize, ensembling, rotation, robot mapping.
public struct ActionContract: Sendable, Hashable {
    /// Action dimensions per step (7 for HyperVLA: xyz, roll/pitch/yaw, gripper); 0 for shared blobs.
    public var actionDim: UInt32
    /// Steps per chunk (4 for HyperVLA).
    public var horizon: UInt32
    /// The first `squashedDims` dims are squashed: `bound · tanh(x / scale)`.
    public var squashedDims: UInt32
    /// The squash bound (`max_action`, 5 for HyperVLA); 0 with `squashedDims` 0.
    public var squashBound: Float
    /// The squash's divisor (`tanh_scaling_factor`); 0 means "the bound" (every file before 1.3). A non-zero
    /// scale is written with the SQUASH_SCALE header flag (format 1.3).
    public var squashScale: Float = 0
    /// The divisor the runtime uses: ``squashScale``, or the bound when it is 0.
    public var effectiveSquashScale: Float { squashScale == 0 ? squashBound : squashScale }
    /// Whether the file needs the SQUASH_SCALE flag: dims are squashed with a scale other than the bound.
    public var hasSquashScale: Bool { squashedDims > 0 && squashScale != 0 && squashScale != squashBound }
    /// What happens to the gripper dim.
    public var gripper: GripperRule
    /// Which dim is the gripper (ignored when the rule is `none`).
    public var gripperDim: UInt32
    /// How normalized actions are mapped back.
    public var normalization: Normalization
    /// Per-dim mean (`mean_std`: `a · std + mean` where `mask`); the low bound p01 with `bounds`.
    public var mean: [Float]
    /// Per-dim standard deviation (`mean_std`); the high bound p99 with `bounds`.
    public var std: [Float]
    /// Per-dim: true where unnormalization applies.
    public var mask: [Bool]
    /// How overlapping chunks are combined.
    public var ensembling: Ensembling
    /// How many recent chunks are combined (≤ horizon).
    public var ensembleWindow: UInt32
    /// Rotation conversion of dims 3..<6.
    public var rotation: RotationMapping
    /// Robot-specific gripper convention.
    public var robot: RobotMapping

    /// Creates a contract; the defaults describe "no post-processing".
    public init(
        actionDim: UInt32 = 0, horizon: UInt32 = 0, squashedDims: UInt32 = 0, squashBound: Float = 0,
        gripper: GripperRule = .none, gripperDim: UInt32 = 0, normalization: Normalization = .none,
        mean: [Float] = [], std: [Float] = [], mask: [Bool] = [], ensembling: Ensembling = .none,
        ensembleWindow: UInt32 = 0, rotation: RotationMapping = .none, robot: RobotMapping = .none
    ) {
        self.actionDim = actionDim
        self.horizon = horizon
        self.squashedDims = squashedDims
        self.squashBound = squashBound
        self.gripper = gripper
        self.gripperDim = gripperDim
        self.normalization = normalization
        self.mean = mean
        self.std = std
        self.mask = mask
        self.ensembling = ensembling
        self.ensembleWindow = ensembleWindow
        self.rotation = rotation
        self.robot = robot
    }
}

/// How a camera frame becomes the network input.
public struct ImageContract: Sendable, Hashable {
    /// Network input height (224); 0 when the file takes no image.
    public var height: UInt32
    /// Network input width (224).
    public var width: UInt32
    /// Resize method from the camera frame to height × width.
    public var resize: ResizeMethod
    /// Optional central crop after resizing.
    public var crop: CropMethod
    /// Area fraction kept by the central crop (0.9 for HyperVLA's `--crop`).
    public var cropArea: Float
    /// Per-channel mean of `x / 255` (ImageNet: 0.485, 0.456, 0.406).
    public var mean: [Float]
    /// Per-channel std (ImageNet: 0.229, 0.224, 0.225).
    public var std: [Float]

    /// The `resize_with_pad` canvas of ``ResizeMethod/padLanczos3Antialias``: 256 rows (the released
    /// `InferenceWrapper._resize_image` with `padded_resize`).
    public static let rtxPadHeight = 256
    /// The canvas width: 320 columns.
    public static let rtxPadWidth = 320

    /// Creates a contract; the default takes no image.
    public init(
        height: UInt32 = 0, width: UInt32 = 0, resize: ResizeMethod = .none, crop: CropMethod = .none,
        cropArea: Float = 0, mean: [Float] = [0, 0, 0], std: [Float] = [1, 1, 1]
    ) {
        self.height = height
        self.width = width
        self.resize = resize
        self.crop = crop
        self.cropArea = cropArea
        self.mean = mean
        self.std = std
    }
}

/// Declares a u32-backed value set whose unknown values a reader reports instead of guessing.
public protocol ContractValue: RawRepresentable, Hashable, Sendable, CustomStringConvertible
where RawValue == UInt32 {
    /// The known values and their names.
    static var names: [UInt32: String] { get }
}

extension ContractValue {
    /// The name, or `unknown(N)`.
    public var description: String { Self.names[rawValue] ?? "unknown(\(rawValue))" }
    /// Whether this version knows the value.
    public var isKnown: Bool { Self.names[rawValue] != nil }
}

/// The gripper rule.
public struct GripperRule: ContractValue {
    /// The stored value.
    public var rawValue: UInt32
    /// Wraps a stored value.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Passed through.
    public static let none = GripperRule(rawValue: 0)
    /// `logit >= 0 ? 1 : 0` (HyperVLA's MixActionHead).
    public static let logitThreshold = GripperRule(rawValue: 1)
    /// Known values.
    public static let names: [UInt32: String] = [0: "none", 1: "logit_threshold"]
}

/// Action normalization.
public struct Normalization: ContractValue {
    /// The stored value.
    public var rawValue: UInt32
    /// Wraps a stored value.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Actions are used as they are.
    public static let none = Normalization(rawValue: 0)
    /// `a · std + mean` on masked dims.
    public static let meanStd = Normalization(rawValue: 1)
    /// `(a + 1) · (high − low + 1e-8) / 2 + low` on masked dims, low and high (p01, p99) stored in the mean and
    /// std arrays (1.3).
    public static let bounds = Normalization(rawValue: 2)
    /// Known values.
    public static let names: [UInt32: String] = [0: "none", 1: "mean_std", 2: "bounds"]
}

/// Temporal ensembling.
public struct Ensembling: ContractValue {
    /// The stored value.
    public var rawValue: UInt32
    /// Wraps a stored value.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The first action of the newest chunk.
    public static let none = Ensembling(rawValue: 0)
    /// Uniform mean of `chunk[t−k][k]` over the last `ensembleWindow` chunks.
    public static let uniform = Ensembling(rawValue: 1)
    /// Known values.
    public static let names: [UInt32: String] = [0: "none", 1: "uniform"]
}

/// Rotation conversion.
public struct RotationMapping: ContractValue {
    /// The stored value.
    public var rawValue: UInt32
    /// Wraps a stored value.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Dims 3..<6 are passed through.
    public static let none = RotationMapping(rawValue: 0)
    /// Euler roll, pitch, yaw (static xyz) → axis · angle.
    public static let eulerToAxisAngle = RotationMapping(rawValue: 1)
    /// Known values.
    public static let names: [UInt32: String] = [0: "none", 1: "euler_to_axis_angle"]
}

/// Robot-specific gripper convention (hypervla.md §7.4).
public struct RobotMapping: ContractValue {
    /// The stored value.
    public var rawValue: UInt32
    /// Wraps a stored value.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The gripper value is passed through.
    public static let none = RobotMapping(rawValue: 0)
    /// Google robot: relative gripper with a sticky repeat.
    public static let googleRobot = RobotMapping(rawValue: 1)
    /// WidowX (Bridge): `2·(g > 0.5) − 1`.
    public static let widowxBridge = RobotMapping(rawValue: 2)
    /// LIBERO: `2·g − 1`.
    public static let libero = RobotMapping(rawValue: 3)
    /// Known values.
    public static let names: [UInt32: String] = [0: "none", 1: "google_robot", 2: "widowx_bridge", 3: "libero"]
}

/// Frame resize method.
public struct ResizeMethod: ContractValue {
    /// The stored value.
    public var rawValue: UInt32
    /// Wraps a stored value.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Frames must already have the input size.
    public static let none = ResizeMethod(rawValue: 0)
    /// TensorFlow `resize(method: lanczos3, antialias: true)`, then round and clip to uint8.
    public static let lanczos3Antialias = ResizeMethod(rawValue: 1)
    /// TensorFlow `resize_with_pad` to 256 × 320 (bilinear, zero border) first, then `lanczos3_antialias`: the
    /// released SimplerEnv evaluation of a model trained with `image_aug_style: "rtx"` (format 1.2; older readers
    /// refuse the value).
    public static let padLanczos3Antialias = ResizeMethod(rawValue: 2)
    /// Known values.
    public static let names: [UInt32: String] = [0: "none", 1: "lanczos3_antialias", 2: "pad_lanczos3_antialias"]
}

/// Crop after resizing.
public struct CropMethod: ContractValue {
    /// The stored value.
    public var rawValue: UInt32
    /// No crop.
    public static let none = CropMethod(rawValue: 0)
    /// Wraps a stored value.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Central square of area `cropArea`, TensorFlow `crop_and_resize` bilinear, back to the input size.
    public static let central = CropMethod(rawValue: 1)
    /// Known values.
    public static let names: [UInt32: String] = [0: "none", 1: "central"]
}
