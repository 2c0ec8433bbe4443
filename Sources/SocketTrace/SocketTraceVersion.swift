/// The version `sockettrace --version` prints and trace files record.
public enum SocketTraceVersion {
    public static let current = "0.1.0-dev"
}
