import Testing
@testable import VLAFormat
@Test func placeholder() { #expect(Bool(true)) }
