import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MarginStore
@testable import MarginSync
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Schema/sync-api.yaml must describe exactly what `SyncServer` serves: the same operations, and
/// every documented status really answered, with the documented error shape.
@Suite("OpenAPI document vs the served routes")
struct OpenAPIRouteTests {
    @Test("the reader finds the documented operations and their statuses")
    func readerFindsOperations() throws {
        let spec = try SyncAPISpec.load()
        #expect(!spec.operations.isEmpty, "no operation found under paths: in \(SyncAPISpec.url.path)")
        for operation in spec.operations {
            #expect(operation.path.hasPrefix("/v1/"), "\(operation) is outside /v1")
            #expect(spec.statuses[operation]?.contains(200) == true, "\(operation) documents no 200")
        }
    }

    @Test("every documented operation is served")
    func documentedOperationsAreServed() async throws {
        let spec = try SyncAPISpec.load()
        let app = Application(router: SyncServer.buildRouter(store: try Store.inMemory()))
        try await app.test(.router) { client in
            for operation in spec.operations.sorted() {
                let response = try await client.execute(uri: operation.path, method: operation.httpMethod)
                #expect(![404, 405].contains(response.status.code),
                        "\(operation) is documented but answers \(response.status)")
            }
        }
    }

    @Test("a method a documented path does not document is 405 with Allow listing the documented ones")
    func undocumentedMethodsAreRefused() async throws {
        let spec = try SyncAPISpec.load()
        let app = Application(router: SyncServer.buildRouter(store: try Store.inMemory()))
        try await app.test(.router) { client in
            for path in Set(spec.operations.map(\.path)).sorted() {
                let documented = Set(spec.operations.filter { $0.path == path }.map(\.method))
                for method in SyncAPISpec.allMethods where !documented.contains(method) {
                    let response = try await client.execute(uri: path, method: HTTPRequest.Method(method)!)
                    #expect(response.status == .methodNotAllowed, "\(method) \(path) answers \(response.status)")
                    let allow = response.headers[.allow].map {
                        Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                    }
                    #expect(allow == documented, "\(method) \(path): Allow is \(allow ?? []), documented \(documented)")
                    #expect(try SyncAPISpec.error(response).code == "method_not_allowed")
                }
            }
        }
    }

    @Test("an undocumented path is not served", arguments: [
        "/", "/v1", "/v1/", "/v1/nothing", "/v2/changes", "/v1/changes/1", "/v1/vectors", "/health",
    ])
    func undocumentedPathsAreNotServed(path: String) async throws {
        let spec = try SyncAPISpec.load()
        let app = Application(router: SyncServer.buildRouter(store: try Store.inMemory()))
        try await app.test(.router) { client in
            for method in SyncAPISpec.allMethods {
                let response = try await client.execute(uri: path, method: HTTPRequest.Method(method)!)
                #expect([404, 405].contains(response.status.code), "\(method) \(path) answers \(response.status)")
            }
        }
        #expect(!spec.operations.contains { $0.path == path })
    }

    @Test("every status the document lists is provoked by a case below, and no other")
    func everyDocumentedStatusHasAProvocation() throws {
        let spec = try SyncAPISpec.load()
        let documented = Set(spec.statuses.flatMap { operation, statuses in
            statuses.map { SyncAPISpec.Outcome(operation: operation, status: $0) }
        })
        let provoked = Set(Provocation.all.map(\.outcome))
        #expect(documented.subtracting(provoked).isEmpty,
                "documented but never provoked: \(documented.subtracting(provoked).sorted())")
        #expect(provoked.subtracting(documented).isEmpty,
                "answered but not documented: \(provoked.subtracting(documented).sorted())")
    }

    @Test("a documented status is answered, with the documented shape, and a refusal writes nothing",
          arguments: Provocation.all)
    func documentedStatusIsAnswered(_ provocation: Provocation) async throws {
        let fixture = try provocation.fixture()
        let before = try fixture.store.versionVector()
        var headers = provocation.headers
        headers.append(contentsOf: fixture.headers)
        let app = Application(router: SyncServer.buildRouter(
            store: fixture.store, loopbackOnly: true, limits: fixture.limits, membersOnly: fixture.membersOnly,
            tokenWork: fixture.tokenWork))
        let response = try await app.test(.router) { [headers] client in
            try await client.execute(
                uri: provocation.uri, method: provocation.outcome.operation.httpMethod, headers: headers,
                body: try provocation.body())
        }
        #expect(response.status.code == provocation.outcome.status,
                "\(provocation): \(response.status) \(String(buffer: response.body))")
        #expect(response.headers[.contentType] == "application/json")
        #expect(response.headers[HTTPField.Name(SyncProtocol.versionHeader)!] == String(SyncProtocol.version))
        #expect(response.headers[HTTPField.Name(SyncProtocol.schemaHeader)!] == String(SyncProtocol.changeSchema))
        if let code = provocation.code {
            let error = try SyncAPISpec.error(response)
            #expect(error.code == code, "\(provocation): \(error.error)")
            #expect(error.protocol == SyncProtocol.version)
            #expect(!error.error.isEmpty)
            #expect((error.vector != nil) == (code == "gap"), "a vector comes with gap, and only with gap")
            if code == "gap" { #expect(error.vector == before) }
            if code == "unauthorized" { #expect(response.headers[.wwwAuthenticate] == "Bearer realm=\"margin\"") }
            if [429, 503].contains(provocation.outcome.status) {
                #expect(response.headers[.retryAfter].flatMap { Int($0) } != nil, "\(provocation): no Retry-After")
            }
            #expect(try fixture.store.versionVector() == before, "\(provocation) was refused but wrote")
        } else {
            try provocation.check(response, fixture.store)
        }
    }
}

// MARK: - The document

/// The operations of Schema/sync-api.yaml and their statuses, read line by line: the file keeps
/// paths at 2 spaces under `paths:`, methods at 4, `responses:` at 6 and statuses at 8.
struct SyncAPISpec {
    struct Operation: Hashable, Comparable, CustomStringConvertible, Sendable {
        var method: String
        var path: String

        var description: String { "\(method) \(path)" }
        var httpMethod: HTTPRequest.Method { HTTPRequest.Method(method)! }

        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.path, lhs.method) < (rhs.path, rhs.method) }
    }

    struct Outcome: Hashable, Comparable, CustomStringConvertible, Sendable {
        var operation: Operation
        var status: Int

        var description: String { "\(operation) → \(status)" }

        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.operation, lhs.status) < (rhs.operation, rhs.status) }
    }

    /// Per operation, its documented response statuses.
    var statuses: [Operation: Set<Int>]
    var operations: Set<Operation> { Set(statuses.keys) }

    /// Methods probed on every path: the ones OpenAPI can document, and QUERY.
    static let allMethods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "QUERY"]

    static let url = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Schema/sync-api.yaml")

    static func load() throws -> SyncAPISpec {
        parse(try String(contentsOf: url, encoding: .utf8))
    }

    static func parse(_ text: String) -> SyncAPISpec {
        let methods = Set(allMethods.map { $0.lowercased() })
        var statuses: [Operation: Set<Int>] = [:]
        var inPaths = false
        var path: String?
        var operation: Operation?
        var inResponses = false
        var blockIndent: Int?  // inside a `key: |` block scalar started at this indent
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            let content = line.trimmingCharacters(in: .whitespaces)
            if content.isEmpty || content.hasPrefix("#") { continue }
            let indent = line.prefix { $0 == " " }.count
            if let block = blockIndent {
                if indent > block { continue }
                blockIndent = nil
            }
            guard let colon = content.firstIndex(of: ":") else { continue }
            let key = content[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "\"' "))
            let value = content[content.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("|") || value.hasPrefix(">") { blockIndent = indent }
            switch indent {
            case 0:
                inPaths = key == "paths"
                path = nil
                operation = nil
            case 2 where inPaths:
                path = key.hasPrefix("/") ? key : nil
                operation = nil
            case 4 where inPaths:
                operation = nil
                if let path, methods.contains(key) {
                    operation = Operation(method: key.uppercased(), path: path)
                    statuses[operation!, default: []] = []
                }
            case 6 where operation != nil:
                inResponses = key == "responses"
            case 8 where inResponses:
                if let operation, let status = Int(key) { statuses[operation, default: []].insert(status) }
            default:
                break
            }
        }
        return SyncAPISpec(statuses: statuses)
    }

    /// Decodes an error answer as the document's ErrorResponse.
    static func error(_ response: TestResponse) throws -> ErrorResponse {
        try JSONDecoder().decode(ErrorResponse.self, from: Data(response.body.readableBytesView))
    }
}

// MARK: - Provoking each documented status

/// A store to serve, headers to add, and whatever must stay alive while the request runs.
final class ProvocationFixture: @unchecked Sendable {
    let store: Store
    var headers: HTTPFields = [:]
    var limits = ServerLimits()
    var membersOnly = false
    let tokenWork = TokenWork()
    private var cleanup: [() -> Void] = []

    init(store: Store) { self.store = store }

    /// A token "flood" presented, whose one allowed request in progress is taken already.
    static func busyToken() throws -> ProvocationFixture {
        let fixture = try ProvocationFixture.memory()
        let token = try fixture.store.createToken(name: "flood")
        fixture.headers[.authorization] = "Bearer \(token)"
        fixture.limits.maxRequestsPerToken = 1
        _ = fixture.tokenWork.enter("flood", limit: 1)
        return fixture
    }

    func onEnd(_ body: @escaping () -> Void) { cleanup.append(body) }

    deinit { for body in cleanup.reversed() { body() } }

    /// An in-memory store; with `token`, one token exists and the request presents `presenting`.
    static func memory(token: Bool = false, presenting: String? = nil) throws -> ProvocationFixture {
        let fixture = ProvocationFixture(store: try Store.inMemory(name: "hub"))
        if token { _ = try fixture.store.createToken(name: "ci") }
        if let presenting { fixture.headers[.authorization] = "Bearer \(presenting)" }
        return fixture
    }

    /// A store on disk whose write lock another holder keeps, so a push waits 0.1 s and gives up.
    static func locked() throws -> ProvocationFixture {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("margin-openapi-\(UUID().uuidString)")
        var options = Store.Options()
        options.lockTimeout = 0.1
        let store = try Store.create(at: folder.appendingPathComponent("hub.sqlite").path, name: "hub", options: options)
        let fixture = ProvocationFixture(store: store)
        let fd = open(folder.appendingPathComponent("hub.sqlite.lock").path, O_RDWR)
        guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            throw StoreError.invalidArgument("cannot hold the store's lock for the test")
        }
        fixture.onEnd {
            close(fd)
            try? FileManager.default.removeItem(at: folder)
        }
        return fixture
    }
}

/// One request that must answer one documented status.
struct Provocation: Sendable, CustomTestStringConvertible {
    var name: String
    var outcome: SyncAPISpec.Outcome
    var uri: String
    /// The ErrorResponse code expected; nil for a 200.
    var code: String?
    var headers: HTTPFields = [:]
    var fixture: @Sendable () throws -> ProvocationFixture = { try .memory() }
    var body: @Sendable () throws -> ByteBuffer? = { nil }
    /// For a 200: checks the body has the documented shape.
    var check: @Sendable (TestResponse, Store) throws -> Void = { _, _ in }

    var testDescription: String { "\(outcome): \(name)" }

    init(
        _ method: String, _ path: String, _ status: Int, _ name: String, uri: String? = nil, code: String? = nil,
        headers: HTTPFields = [:], fixture: @escaping @Sendable () throws -> ProvocationFixture = { try .memory() },
        body: @escaping @Sendable () throws -> ByteBuffer? = { nil },
        check: @escaping @Sendable (TestResponse, Store) throws -> Void = { _, _ in }
    ) {
        self.name = name
        self.outcome = .init(operation: .init(method: method, path: path), status: status)
        self.uri = uri ?? path
        self.code = code
        self.headers = headers
        self.fixture = fixture
        self.body = body
        self.check = check
    }

    static func header(_ name: String, _ value: String) -> HTTPFields {
        var fields = HTTPFields()
        fields[HTTPField.Name(name)!] = value
        return fields
    }

    static func now() -> HLC { HLC(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)) }

    /// The key of the replica whose runs the provocations send.
    static let key = try! ReplicaKey(seed: Array(repeating: 9, count: 32))
    static var origin: String { key.replicaID }

    static func change(
        origin: String = origin, seq: Int64 = 1, hlc: HLC = now(), field: String = "title",
        entityID: String = "0123456789abcdef"
    ) -> Change {
        Change(origin: origin, seq: seq, hlc: hlc, entity: .article, entityID: entityID,
               field: field, value: .string("Blinken in Seoul"))
    }

    /// The changes as one run signed with `key`; `first` is the first change's seq.
    static func run(_ changes: [Change], prev: [UInt8] = []) -> SignedRun {
        let run = Run(origin: changes[0].origin, first: changes[0].seq, prev: prev, changes: changes)
        let body = RunCodec.encode(run)
        let hash = Hashing.sha256(body)
        return SignedRun(
            origin: run.origin, first: run.first, last: run.last, body: body, hash: hash, key: key.publicKey,
            signature: key.sign(runHash: hash))
    }

    static func push(_ runs: [SignedRun], protocol version: Int = SyncProtocol.version) throws -> ByteBuffer {
        var request = PushRequest(runs: runs)
        request.protocol = version
        return ByteBuffer(bytes: WireCodec.encode(request))
    }

    static func push(_ changes: [Change]) throws -> ByteBuffer { try push([run(changes)]) }

    static func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(response.body.readableBytesView))
    }

    static let all: [Provocation] = [
        // GET /v1/health
        Provocation("GET", "/v1/health", 200, "health needs no token", fixture: { try .memory(token: true) },
                    check: { response, store in
                        let health = try decode(HealthResponse.self, response)
                        #expect(health.status == "ok" && health.protocol == SyncProtocol.version && health.schema == 1)
                        #expect(health.replicaID == store.replicaID && health.replicaName == "hub")
                    }),
        Provocation("GET", "/v1/health", 400, "another protocol in the header", code: "protocol_mismatch",
                    headers: header(SyncProtocol.versionHeader, "\(SyncProtocol.version + 1)")),

        // GET /v1/vector
        Provocation("GET", "/v1/vector", 200, "the right token", headers: header(SyncProtocol.versionHeader, "\(SyncProtocol.version)"),
                    fixture: {
                        let fixture = try ProvocationFixture.memory()
                        fixture.headers[.authorization] = "Bearer \(try fixture.store.createToken(name: "ci"))"
                        return fixture
                    },
                    check: { response, store in
                        let vector = try decode(VectorResponse.self, response)
                        #expect(vector.vector == (try store.versionVector()) && vector.vector[store.replicaID] == 1)
                    }),
        Provocation("GET", "/v1/vector", 400, "another change schema in the header", code: "protocol_mismatch",
                    headers: header(SyncProtocol.schemaHeader, "7")),
        Provocation("GET", "/v1/vector", 401, "a wrong token", code: "unauthorized",
                    fixture: { try .memory(token: true, presenting: "mgn_wrong") }),

        // GET /v1/digest
        Provocation("GET", "/v1/vector", 429, "a token with its requests in progress", code: "too_many_requests",
                    fixture: { try .busyToken() }),
        Provocation("GET", "/v1/digest", 429, "a token with its requests in progress", code: "too_many_requests",
                    fixture: { try .busyToken() }),
        Provocation("GET", "/v1/changes", 429, "a token with its requests in progress", code: "too_many_requests",
                    fixture: { try .busyToken() }),
        Provocation("POST", "/v1/changes", 429, "a token with its requests in progress", code: "too_many_requests",
                    fixture: { try .busyToken() }, body: { try push([change()]) }),
        Provocation("POST", "/v1/changes", 403, "runs of a replica bound to no token, on a members-only hub",
                    code: "not_member", fixture: {
                        let fixture = try ProvocationFixture.memory()
                        let token = try fixture.store.createToken(name: "newsroom")
                        fixture.headers[.authorization] = "Bearer \(token)"
                        fixture.membersOnly = true
                        return fixture
                    }, body: { try push([change()]) }),
        Provocation("GET", "/v1/digest", 200, "the digests of a store with one received change", fixture: {
                        let fixture = try ProvocationFixture.memory()
                        _ = try fixture.store.apply([run([change()])])
                        return fixture
                    },
                    check: { response, store in
                        let answer = try decode(DigestResponse.self, response)
                        #expect(answer.digest == (try store.digest()))
                        #expect(answer.vector == (try store.versionVector()))
                        #expect(answer.counts["changes"] == 2 && answer.kinds.values.allSatisfy { $0.count == 64 })
                    }),
        Provocation("GET", "/v1/digest", 400, "another protocol in the header", code: "protocol_mismatch",
                    headers: header(SyncProtocol.versionHeader, "0")),
        Provocation("GET", "/v1/digest", 401, "a revoked token", code: "unauthorized", fixture: {
                        let fixture = try ProvocationFixture.memory()
                        let token = try fixture.store.createToken(name: "ci")
                        try fixture.store.revokeToken(name: "ci")
                        fixture.headers[.authorization] = "Bearer \(token)"
                        return fixture
                    }),

        // GET /v1/changes
        Provocation("GET", "/v1/changes", 200, "a page of one of two", uri: "/v1/changes?after=&limit=1",
                    fixture: {
                        let fixture = try ProvocationFixture.memory()
                        _ = try fixture.store.apply([run([change()])])
                        return fixture
                    },
                    check: { response, store in
                        let page = try Data(response.body.readableBytesView).withUnsafeBytes {
                            try WireCodec.decodeChangesResponse($0)
                        }
                        #expect(page.changeCount == 1 && page.more)
                        #expect(page.vector == (try store.versionVector()) && page.vector.total == 2)
                    }),
        Provocation("GET", "/v1/changes", 400, "a malformed vector", uri: "/v1/changes?after=abc", code: "bad_request"),
        Provocation("GET", "/v1/changes", 400, "a limit out of range", uri: "/v1/changes?limit=5001",
                    code: "bad_request"),
        Provocation("GET", "/v1/changes", 401, "no token once one exists", code: "unauthorized",
                    fixture: { try .memory(token: true) }),

        // POST /v1/changes
        Provocation("POST", "/v1/changes", 200, "one new change", body: { try push([change()]) },
                    check: { response, store in
                        let report = try decode(PushResponse.self, response)
                        #expect(report.applied == 1 && report.duplicates == 0)
                        #expect(report.vector == (try store.versionVector()) && report.vector[change().origin] == 1)
                    }),
        Provocation("POST", "/v1/changes", 400, "malformed JSON", code: "bad_request",
                    body: { ByteBuffer(string: "{\"protocol\": 2, \"runs\": [") }),
        Provocation("POST", "/v1/changes", 400, "a field of the wrong type", code: "bad_request",
                    body: { ByteBuffer(string: #"{"protocol": 2, "runs": [{"origin": 5}]}"#) }),
        Provocation("POST", "/v1/changes", 400, "another protocol in the body", code: "protocol_mismatch",
                    body: { try push([run([change()])], protocol: SyncProtocol.version + 1) }),
        Provocation("POST", "/v1/changes", 401, "a malformed Authorization header", code: "unauthorized",
                    headers: header("Authorization", "Basic Zm9vOmJhcg=="), body: { try push([change()]) }),
        Provocation("POST", "/v1/changes", 403, "a read-only token", code: "read_only", fixture: {
                        let fixture = try ProvocationFixture.memory()
                        let token = try fixture.store.createToken(name: "reader", readOnly: true)
                        fixture.headers[.authorization] = "Bearer \(token)"
                        return fixture
                    }, body: { try push([change()]) }),
        Provocation("POST", "/v1/changes", 409, "a gap in an origin's seq", code: "gap",
                    body: {
                        let first = run([change(seq: 1)])
                        return try push([first, run([change(seq: 3)], prev: first.hash)])
                    }),
        Provocation("POST", "/v1/changes", 413, "a body over the limit", code: "too_large", body: {
            ByteBuffer(repeating: UInt8(ascii: " "), count: SyncProtocol.maxBodyBytes + 1)
        }),
        Provocation("POST", "/v1/changes", 422, "more changes than a batch may carry", code: "too_many_changes", body: {
            let changes = (1...Int64(SyncProtocol.maxBatch + 1)).map { change(seq: $0) }
            let first = run(Array(changes.prefix(ChangeLimits.maxRunChanges)))
            return try push([first, run(Array(changes.dropFirst(ChangeLimits.maxRunChanges)), prev: first.hash)])
        }),
        Provocation("POST", "/v1/changes", 422, "a change stamped two days ahead", code: "clock_skew", body: {
            let ahead = HLC(milliseconds: Int64(Date().timeIntervalSince1970 * 1000) + 2 * 86_400_000)
            return try push([change(seq: 1), change(seq: 2, hlc: ahead)])
        }),
        Provocation("POST", "/v1/changes", 422, "a field over 200 bytes", code: "invalid_change", body: {
            try push([change(field: String(repeating: "é", count: 101))])
        }),
        Provocation("POST", "/v1/changes", 400, "an origin with U+0000, which SQLite would cut there",
                    code: "bad_request", body: { try push([change(origin: "hub\u{0}forged")]) }),
        Provocation("POST", "/v1/changes", 422, "an entity_id with U+0000 in a signed body", code: "invalid_change", body: {
            try push([change(entityID: "0123\u{0}forged")])
        }),
        Provocation("POST", "/v1/changes", 422, "a run altered after it was signed", code: "forged_run", body: {
            var forged = run([change()])
            var other = change()
            other.writes[0].value = .string("Forged in Seoul")
            forged.body = RunCodec.encode(Run(origin: origin, first: 1, prev: [], changes: [other]))
            return try push([forged], protocol: SyncProtocol.version)
        }),
        Provocation("POST", "/v1/changes", 422, "a run that supersedes a dot nobody holds", code: "not_causal", body: {
            var cancelling = change()
            cancelling.writes[0].supersedes = [Dot(origin: "AAAAAAAAAAAAAAAAAAAAAAAAAA", seq: 5)]
            return try push([cancelling])
        }),
        Provocation("POST", "/v1/changes", 415, "a body in an encoding other than gzip", code: "unsupported_encoding",
                    headers: header("Content-Encoding", "br"), body: { try push([change()]) }),
        Provocation("POST", "/v1/changes", 503, "another process holds the store", code: "busy",
                    fixture: { try .locked() }, body: { try push([change()]) }),
    ]
}
