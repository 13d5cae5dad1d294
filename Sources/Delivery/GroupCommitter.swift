import Dispatch
import MailStore
import Metrics

/// Group commit for local delivery (DESIGN.md §4): concurrent sessions' deliveries are written
/// in one store transaction, so they share one fsync. At low load a submission is written at
/// once (no added latency); while a transaction is being committed, new submissions gather and
/// go together in the next one.
public actor GroupCommitter {
    /// Deliveries per transaction: bounds the transaction's size and memory.
    public static let maxBatch = 512

    private typealias Waiter = (deliveries: [Delivery], continuation: CheckedContinuation<[Result<AppendResult, StoreError>], Never>)

    private let store: any MailStore
    private var pending: [Waiter] = []
    private var flushing = false

    public init(store: any MailStore) {
        self.store = store
    }

    /// Stores the deliveries durably; one result per delivery, in order.
    public func submit(_ deliveries: [Delivery]) async -> [Result<AppendResult, StoreError>] {
        guard !deliveries.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            pending.append((deliveries, continuation))
            if !flushing {
                flushing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !pending.isEmpty {
            var batch: [Waiter] = []
            var count = 0
            while let next = pending.first, batch.isEmpty || count + next.deliveries.count <= Self.maxBatch {
                batch.append(pending.removeFirst())
                count += next.deliveries.count
            }
            let all = batch.flatMap(\.deliveries)
            let results: [Result<AppendResult, StoreError>]
            let started = DispatchTime.now()
            do {
                results = try await store.deliver(all)
            } catch {
                results = all.map { _ in .failure(error) }
            }
            Timer(label: "swallow_store_commit_seconds").recordInterval(since: started)
            var index = 0
            for waiter in batch {
                waiter.continuation.resume(returning: Array(results[index..<index + waiter.deliveries.count]))
                index += waiter.deliveries.count
            }
        }
        flushing = false
    }
}
