/// The release that `robotd --version`, `robotctl --version` and `hello` report: one number for
/// the daemon and its client, kept here because robotctl links no daemon code.
public enum ReleaseVersion {
    public static let string = "0.1.0"
}
