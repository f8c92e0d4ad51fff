/// An error a subcommand reports as it is: ArgumentParser prints `Error: <description>` and exits 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }

    /// Prefixes an error with the path of the file it is about.
    init(path: String, _ error: any Error) { self.description = "\(path): \(error)" }
}

/// Runs `body`, turning any error into a ``CommandFailure`` that names `path`.
func about<R>(_ path: String, _ body: () throws -> R) throws -> R {
    do { return try body() } catch let error as CommandFailure { throw error } catch { throw CommandFailure(path: path, error) }
}
