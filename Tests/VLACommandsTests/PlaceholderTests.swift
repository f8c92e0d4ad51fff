import ArgumentParser
import Testing
@testable import VLACommands
@Test func parses() throws { _ = try VLAC.parseAsRoot(["dump", "x.vla"]) }
