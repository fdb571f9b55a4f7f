import MarginStore
public enum MarginSyncVersion { public static let protocolVersion = 1 }
