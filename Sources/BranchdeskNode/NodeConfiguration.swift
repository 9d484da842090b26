import Foundation
import Logging
import SyncWire

/// How a node runs, resolved once from the configuration file, then the environment
/// (`BRANCHDESK_*`), then the command line's flags — each overriding the one before — and passed
/// down from there: nothing below reads a file or a variable again.
public struct NodeConfiguration: Sendable {
    /// What the command line gave; nil where a flag was not given.
    public struct Flags: Sendable {
        public var data: String?
        public var listen: HostPort?
        public var hq: HostPort?
        public var metrics: HostPort?
        public var web: HostPort?
        public var logLevel: Logger.Level?

        public init(
            data: String? = nil, listen: HostPort? = nil, hq: HostPort? = nil, metrics: HostPort? = nil, web: HostPort? = nil,
            logLevel: Logger.Level? = nil
        ) {
            self.data = data
            self.listen = listen
            self.hq = hq
            self.metrics = metrics
            self.web = web
            self.logLevel = logLevel
        }
    }

    /// The node's data directory; nil when none was given anywhere.
    public var dataDirectory: String?
    /// Where the node accepts peers (HQ's default is 0.0.0.0:7420 when none is given).
    public var listen: HostPort?
    /// Where a branch dials headquarters, overriding the address stored by `init --hq`.
    public var hq: HostPort?
    /// Where `/metrics` and `/health` are served; off when nil.
    public var metrics: HostPort?
    /// Where the web console is served (`web_listen`); off when nil.
    public var web: HostPort?
    /// The PEM certificate chain and private key the console serves HTTPS with (`web_tls_cert`,
    /// `web_tls_key`, both or neither); plain HTTP when nil.
    public var webTLS: (certificate: String, key: String)?
    /// The log level; the command's own default when nil.
    public var logLevel: Logger.Level?
    /// The sync sessions' tunables.
    public var sync = SyncSettings()
    /// The size the database may not grow past while serving; unlimited when nil.
    public var maxDatabaseBytes: Int64?
    /// How often the change feed looks for commits made by other processes.
    public var changePollInterval: Duration = .milliseconds(20)

    /// A configuration with the defaults, for a node in `dataDirectory`.
    public init(dataDirectory: String? = nil) {
        self.dataDirectory = dataDirectory
    }

    /// Resolves the configuration from `file`, `environment` and `flags`. A bad value names where
    /// it came from (the file and line, or the variable).
    public init(
        file: ConfigFile?, environment: [String: String] = ProcessInfo.processInfo.environment, flags: Flags = Flags()
    ) throws(ConfigError) {
        func value(_ key: ConfigFile.Key, flag: String? = nil) throws(ConfigError) -> String? {
            try ConfigFile.resolve(key, flag: flag, file: file, environment: environment)
        }
        func number(_ key: ConfigFile.Key) throws(ConfigError) -> Int? { try value(key).flatMap { Int($0) } }

        func address(_ key: ConfigFile.Key, flag: HostPort?) throws(ConfigError) -> HostPort? {
            if let flag { return flag }
            return try value(key).flatMap(HostPort.init)
        }
        dataDirectory = try value(.data, flag: flags.data.flatMap { $0.isEmpty ? nil : $0 })
        listen = try address(.listen, flag: flags.listen)
        hq = try address(.hq, flag: flags.hq)
        metrics = try address(.metrics, flag: flags.metrics)
        web = try address(.webListen, flag: flags.web)
        switch (try value(.webTLSCertificate), try value(.webTLSKey)) {
        case (let certificate?, let key?): webTLS = (certificate, key)
        case (nil, nil): webTLS = nil
        default: throw ConfigError("give both web_tls_cert and web_tls_key for HTTPS on the web listener, or neither for plain HTTP")
        }
        logLevel = try value(.logLevel, flag: flags.logLevel?.rawValue).flatMap(Logger.Level.init(rawValue:))
        if let batchOps = try number(.batchOps) { sync.batchOps = batchOps }
        if let window = try number(.window) { sync.window = window }
        if let seconds = try number(.heartbeatSeconds) { sync.heartbeatInterval = .seconds(seconds) }
        if let seconds = try number(.deadAfterSeconds) { sync.deadAfter = .seconds(seconds) }
        if let connections = try number(.maxConnections) { sync.maxConnections = connections }
        maxDatabaseBytes = try number(.maxDatabaseMiB).map { Int64($0) * 1_048_576 }
        guard sync.deadAfter > sync.heartbeatInterval else {
            throw ConfigError("dead_after_seconds must be longer than heartbeat_seconds: a quiet live link would be declared dead")
        }
    }

}
