/// The release this build is, shown by `swallow --version`, the admin API's status and the console.
public enum SwallowVersion {
    public static let string = "0.4.0-dev"
}
