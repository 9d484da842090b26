import Foundation
import TestSupport
import Testing
import TicketModel
import TicketStore

/// The console's accounts: local to the node, bcrypt-hashed, locked after wrong passwords.
@Suite struct AccountTests {
    let clock = ManualClock()
    let store: NodeStore

    init() throws {
        store = try Fixtures.memoryStore("sh-012", clock: clock)
    }

    @Test func anAccountLogsInWithItsPasswordAndIsNoOpOfTheReplica() async throws {
        let account = try await store.addAccount(" 王芳 ", role: .clerk, password: "门店密码2026")
        #expect(account.name == "王芳" && account.role == .clerk && !account.disabled)
        #expect(try await store.logIn("王芳", password: "门店密码2026") == account)
        #expect(try await store.opCount() == 0, "accounts never travel: they are no ops")
        let duplicate = await #expect(throws: DomainError.self) { _ = try await store.addAccount("王芳", role: .admin, password: "another-password") }
        #expect(duplicate?.message.contains("already an account") == true)
        await #expect(throws: DomainError.self) { _ = try await store.addAccount("李四", role: .clerk, password: "short") }
        await #expect(throws: DomainError.self) { _ = try await store.addAccount("李\u{1B}四", role: .clerk, password: "long-enough-1") }
    }

    @Test func wrongPasswordsLockTheAccountAndSayUntilWhen() async throws {
        _ = try await store.addAccount("王芳", role: .supervisor, password: "门店密码2026")
        for attempt in 1..<NodeStore.loginAttempts {
            let refusal = await #expect(throws: LoginRefusal.self) { _ = try await store.logIn("王芳", password: "wrong \(attempt)") }
            #expect(refusal == .wrongNameOrPassword)
        }
        let locked = await #expect(throws: LoginRefusal.self) { _ = try await store.logIn("王芳", password: "wrong again") }
        let until = Date(timeIntervalSince1970: Double(clock.nowMillis()) / 1000 + NodeStore.lockout)
        #expect(locked == .locked(until: until))
        #expect(locked?.description.contains("locked until") == true)
        // Even the right password waits for the lock to pass.
        await #expect(throws: LoginRefusal.locked(until: until)) { _ = try await store.logIn("王芳", password: "门店密码2026") }
        clock.advance(byMillis: UInt64(NodeStore.lockout * 1000) + 1)
        #expect(try await store.logIn("王芳", password: "门店密码2026").lockedUntil == nil)
    }

    @Test func anUnknownNameAndAWrongPasswordAreRefusedAlike() async throws {
        _ = try await store.addAccount("王芳", role: .clerk, password: "门店密码2026")
        await #expect(throws: LoginRefusal.wrongNameOrPassword) { _ = try await store.logIn("张伟", password: "门店密码2026") }
        await #expect(throws: LoginRefusal.wrongNameOrPassword) { _ = try await store.logIn("王芳", password: "门店密码2025") }
    }

    @Test func aDisabledAccountCannotLogInAndANewPasswordUnlocks() async throws {
        _ = try await store.addAccount("王芳", role: .clerk, password: "门店密码2026")
        try await store.setAccount("王芳", disabled: true)
        await #expect(throws: LoginRefusal.disabled) { _ = try await store.logIn("王芳", password: "门店密码2026") }
        try await store.setAccount("王芳", disabled: false)
        for _ in 0..<NodeStore.loginAttempts { _ = try? await store.logIn("王芳", password: "guess") }
        try await store.setPassword(of: "王芳", to: "新的密码2027")
        #expect(try await store.logIn("王芳", password: "新的密码2027").name == "王芳")
        await #expect(throws: DomainError.self) { try await store.setPassword(of: "张伟", to: "新的密码2027") }
    }
}
