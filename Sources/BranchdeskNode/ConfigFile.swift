import Foundation
import Logging
import SyncWire

/// A node's configuration file: one `key = value` per line (a flat subset of TOML: strings in
/// double quotes or bare, integers, `#` comments). Every key may be overridden by its
/// environment variable (`BRANCHDESK_` and the key in capitals), and that by its command-line flag.
/// Unknown keys, repeated keys and bad values are refused with the file and line.
public struct ConfigFile: Equatable, Sendable {
    /// The keys a configuration file may hold.
    public enum Key: String, CaseIterable, Sendable {
        case data
        case listen
        case hq
        case metrics
        case webListen = "web_listen"
        case webTLSCertificate = "web_tls_cert"
        case webTLSKey = "web_tls_key"
        case logLevel = "log_level"
        case batchOps = "batch_ops"
        case window
        case heartbeatSeconds = "heartbeat_seconds"
        case deadAfterSeconds = "dead_after_seconds"
        case maxConnections = "max_connections"
        case maxDatabaseMiB = "max_database_mib"

        public var environmentVariable: String { "BRANCHDESK_" + rawValue.uppercased() }
    }

    /// The file, for messages.
    public let path: String
    public private(set) var values: [Key: String] = [:]
    private var lines: [Key: Int] = [:]

    /// Reads and checks the file at `path`.
    public init(path: String) throws(ConfigError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("cannot read the configuration file \(path): check the path given to --config or BRANCHDESK_CONFIG")
        }
        try self.init(parsing: String(decoding: data, as: UTF8.self), path: path)
    }

    public init(parsing text: String, path: String) throws(ConfigError) {
        self.path = path
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = Self.strippingComment(rawLine).trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty else { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigError("\(path):\(number): expected 'key = value', found '\(line)'")
            }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard let key = Key(rawValue: name) else {
                throw ConfigError(
                    "\(path):\(number): unknown key '\(name)'; the keys are \(Key.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if let first = lines[key] {
                throw ConfigError("\(path):\(number): '\(name)' is set a second time (first on line \(first))")
            }
            let value = try Self.value(line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces), path, number)
            try Self.check(key, value, at: "\(path):\(number)")
            values[key] = value
            lines[key] = number
        }
    }

    /// The setting of `key`: the flag if given, else its environment variable, else the file's.
    static func resolve(
        _ key: Key, flag: String?, file: ConfigFile?, environment: [String: String]
    ) throws(ConfigError) -> String? {
        if let flag { return flag }
        if let environment = environment[key.environmentVariable], !environment.isEmpty {
            try check(key, environment, at: key.environmentVariable)
            return environment
        }
        return file?.values[key]
    }

    /// Checks a value wherever it came from; `origin` names its place for the message.
    static func check(_ key: Key, _ value: String, at origin: String) throws(ConfigError) {
        switch key {
        case .data:
            guard !value.isEmpty else { throw ConfigError("\(origin): data needs a directory") }
        case .webTLSCertificate, .webTLSKey:
            guard !value.isEmpty else { throw ConfigError("\(origin): \(key.rawValue) needs the path of a PEM file") }
        case .listen, .hq, .metrics, .webListen:
            guard HostPort(value) != nil else { throw ConfigError("\(origin): \(key.rawValue) '\(value)' is not HOST:PORT, e.g. 127.0.0.1:7420") }
        case .logLevel:
            guard Logger.Level(rawValue: value) != nil else {
                throw ConfigError("\(origin): unknown log level '\(value)': use trace, debug, info, notice, warning, error or critical")
            }
        case .batchOps, .window, .heartbeatSeconds, .deadAfterSeconds, .maxConnections, .maxDatabaseMiB:
            let range = key.range
            guard let number = Int(value), range.contains(number) else {
                throw ConfigError("\(origin): \(key.rawValue) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(value)'")
            }
        }
    }

    /// A quoted string (with `\"` and `\\` escapes) or a bare word.
    private static func value(_ text: String, _ path: String, _ number: Int) throws(ConfigError) -> String {
        guard text.hasPrefix("\"") else {
            guard !text.isEmpty, !text.contains(where: { $0 == "\"" || $0.isWhitespace }) else {
                throw ConfigError("\(path):\(number): put a value with spaces or quotes in double quotes")
            }
            return text
        }
        var result = ""
        var escaped = false
        for (offset, character) in text.dropFirst().enumerated() {
            if escaped {
                result.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                guard offset == text.count - 2 else { throw ConfigError("\(path):\(number): text after the closing quote") }
                return result
            } else {
                result.append(character)
            }
        }
        throw ConfigError("\(path):\(number): the string is not closed with a double quote")
    }

    /// The line up to a `#` that is not inside a quoted string.
    private static func strippingComment(_ line: Substring) -> Substring {
        var quoted = false
        var previous: Character?
        for index in line.indices {
            let character = line[index]
            if character == "\"" && previous != "\\" { quoted.toggle() }
            if character == "#" && !quoted { return line[..<index] }
            previous = character
        }
        return line
    }
}

extension ConfigFile.Key {
    fileprivate var range: ClosedRange<Int> {
        switch self {
        case .batchOps: 1...5_000
        case .window: 1...SyncProtocol.window
        case .heartbeatSeconds: 1...300
        case .deadAfterSeconds: 2...3_600
        case .maxConnections: 1...100_000
        case .maxDatabaseMiB: 1...100_000_000
        default: 0...0
        }
    }
}

/// A configuration that cannot be used: names the file and line (or variable) and what to do.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
