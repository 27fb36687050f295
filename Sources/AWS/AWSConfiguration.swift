public import ClowdrErrors
import Foundation
import Subprocess

/// A failure of clowdr's AWS client: what failed, where, and what to do.
public typealias AWSError = CodedFailure

/// What the AWS client reads its settings from: the environment and the home folder (injected in tests).
public struct AWSEnvironment: Sendable {
    public var variables: [String: String]
    public var home: String

    public init(variables: [String: String], home: String) {
        self.variables = variables
        self.home = home
    }

    /// This process's environment and home folder.
    public static var current: AWSEnvironment { AWSEnvironment(variables: ProcessInfo.processInfo.environment, home: NSHomeDirectory()) }

    /// `~/.aws/credentials`, or `AWS_SHARED_CREDENTIALS_FILE`.
    var credentialsFile: String { variables["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials" }
    /// `~/.aws/config`, or `AWS_CONFIG_FILE`.
    var configFile: String { variables["AWS_CONFIG_FILE"] ?? home + "/.aws/config" }
    /// The profile: the one asked for, else `AWS_PROFILE`, else `default`.
    func profile(_ asked: String?) -> String { asked ?? variables["AWS_PROFILE"] ?? variables["AWS_DEFAULT_PROFILE"] ?? "default" }
}

/// The credentials, region and endpoints an AWS client uses, resolved as the AWS CLI does.
///
/// - Credentials: a `credentials.csv` given explicitly (the original Clowdr's form: the file the AWS console
///   downloads), else `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, else the profile's keys
///   in `~/.aws/credentials`, then in `~/.aws/config`, else the profile's `credential_process`, else a container's
///   (AWS Batch, ECS) job role from `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `_FULL_URI`.
/// - Region: the flag, else `AWS_REGION`, `AWS_DEFAULT_REGION`, else the profile's `region` in `~/.aws/config`.
/// - Endpoint of a service: the flag, else `AWS_ENDPOINT_URL_<SERVICE>` (`AWS_ENDPOINT_URL_S3`), `AWS_ENDPOINT_URL`,
///   the profile's `endpoint_url`, else AWS's own (`https://<service>.<region>.amazonaws.com`).
public struct AWSConfiguration: Sendable {
    /// The keys as resolved (requests are signed with `signingCredentials()`).
    public var credentials: Credentials
    public var region: String
    /// Endpoints set by the user, by service (`s3`, `batch`, ...), and for every service (key `""`).
    public var endpoints: [String: String]
    /// Where keys that expire are fetched again (a container's job role, a `credential_process`).
    public var refreshing: RefreshingCredentials?

    public init(credentials: Credentials, region: String, endpoints: [String: String] = [:], refreshing: RefreshingCredentials? = nil) {
        self.credentials = credentials
        self.region = region
        self.endpoints = endpoints
        self.refreshing = refreshing
    }

    /// The keys to sign a request with now: `credentials`, or fresh ones when those expire soon.
    public func signingCredentials() throws -> Credentials { try refreshing?.credentials(at: Date()) ?? credentials }

    /// Resolves the settings. `credentialsCSV`, `profile`, `region` and `endpoint` are what flags said (nil: not given).
    public static func resolve(
        credentialsCSV: String? = nil, profile asked: String? = nil, region flag: String? = nil, endpoint: String? = nil,
        environment env: AWSEnvironment = .current
    ) throws -> AWSConfiguration {
        let profile = env.profile(asked)
        let credentialsFile = try INIFile.load(env.credentialsFile)
        let configFile = try INIFile.load(env.configFile)
        // In ~/.aws/config a profile's section is `[profile NAME]`, except `[default]`.
        let config = configFile?.section(profile == "default" ? "default" : "profile " + profile) ?? [:]
        let keys = credentialsFile?.section(profile) ?? [:]
        if asked != nil && keys.isEmpty && config.isEmpty {
            throw AWSError(
                "no profile '\(profile)' in \(env.credentialsFile) or \(env.configFile): give a profile they define, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                code: "aws.no_profile", usage: true)
        }
        let credentials: Credentials
        var refreshing: RefreshingCredentials?
        if let csv = credentialsCSV {
            credentials = try Self.credentials(csvAt: csv)
        } else if let id = env.variables["AWS_ACCESS_KEY_ID"], let secret = env.variables["AWS_SECRET_ACCESS_KEY"], !id.isEmpty {
            credentials = Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: env.variables["AWS_SESSION_TOKEN"])
        } else if let c = Self.credentials(in: keys) ?? Self.credentials(in: config) {
            credentials = c
        } else if let command = keys["credential_process"] ?? config["credential_process"] {
            let keys = try RefreshingCredentials { try Self.credentials(fromProcess: command) }
            (credentials, refreshing) = (keys.first, keys)
        } else if let url = Self.containerCredentialsURL(env.variables) {
            let authorization = try Self.containerAuthorization(env.variables)
            let keys = try RefreshingCredentials { try Self.credentials(fromContainer: url, authorization: authorization) }
            (credentials, refreshing) = (keys.first, keys)
        } else {
            throw AWSError(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or define profile '\(profile)' in \(env.credentialsFile), or give a credentials.csv",
                code: "aws.no_credentials", usage: true)
        }
        guard let region = flag ?? env.variables["AWS_REGION"] ?? env.variables["AWS_DEFAULT_REGION"] ?? config["region"], !region.isEmpty else {
            throw AWSError(
                "no AWS region: give --region, set AWS_REGION, or set region in profile '\(profile)' of \(env.configFile)", code: "aws.no_region",
                usage: true)
        }
        // The flag is every service's endpoint; otherwise per-service variables win over the general ones.
        var endpoints: [String: String] = [:]
        if let endpoint {
            endpoints[""] = endpoint
        } else {
            endpoints[""] = env.variables["AWS_ENDPOINT_URL"] ?? config["endpoint_url"]
            for (name, value) in env.variables where name.hasPrefix("AWS_ENDPOINT_URL_") {
                endpoints[String(name.dropFirst("AWS_ENDPOINT_URL_".count)).lowercased()] = value
            }
        }
        return AWSConfiguration(credentials: credentials, region: region, endpoints: endpoints, refreshing: refreshing)
    }

    /// The endpoint of a service (`s3`, `batch`, `iam`, ...): the user's, else AWS's own.
    public func endpoint(_ service: String) -> String {
        customEndpoint(service) ?? (service == "iam" ? "https://iam.amazonaws.com" : "https://\(service).\(region).amazonaws.com")
    }

    /// The endpoint the user set for a service (or for every service), without a trailing slash; nil: AWS's own.
    public func customEndpoint(_ service: String) -> String? {
        (endpoints[service.lowercased()] ?? endpoints[""]).map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    /// Keys from a profile's section, when it has both.
    static func credentials(in section: [String: String]) -> Credentials? {
        guard let id = section["aws_access_key_id"], let secret = section["aws_secret_access_key"], !id.isEmpty else { return nil }
        return Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: section["aws_session_token"])
    }

    /// The keys in a `credentials.csv` as the AWS console writes it: a header row naming `Access key ID` and
    /// `Secret access key` (other columns, such as `User name`, are ignored), then one row.
    public static func credentials(csvAt path: String) throws -> Credentials {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw AWSError("cannot read the credentials file \(path)", code: "aws.credentials_csv", usage: true)
        }
        let rows = text.replacingOccurrences(of: "\r", with: "").split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"\u{FEFF}")) }
        }
        guard let header = rows.first, let id = header.firstIndex(of: "Access key ID"), let secret = header.firstIndex(of: "Secret access key")
        else {
            throw AWSError(
                "\(path): expected a header row with the columns 'Access key ID' and 'Secret access key' (the file the AWS console downloads)",
                code: "aws.credentials_csv", usage: true)
        }
        guard rows.count > 1, rows[1].count > max(id, secret), !rows[1][id].isEmpty, !rows[1][secret].isEmpty else {
            throw AWSError("\(path), line 2: expected an access key ID and a secret access key", code: "aws.credentials_csv", usage: true)
        }
        return Credentials(accessKeyID: rows[1][id], secretAccessKey: rows[1][secret])
    }

    /// Credentials from a profile's `credential_process`: the command's standard output, a JSON object with
    /// `Version` 1, `AccessKeyId`, `SecretAccessKey` and optionally `SessionToken`.
    static func credentials(fromProcess command: String) throws -> (credentials: Credentials, expiration: Date?) {
        // Its standard input and error are the user's: a helper may ask for a second factor there.
        let o: Subprocess.Output
        do { o = try Subprocess.run("/bin/sh", ["-c", command], inheritingInput: true, stderr: .inherit) } catch {
            throw AWSError("credential_process '\(command)' could not start: \(error)", code: "aws.credential_process", usage: true)
        }
        guard o.status == 0 else {
            throw AWSError("credential_process '\(command)' exited \(o.status)", code: "aws.credential_process")
        }
        guard let object = try? JSONSerialization.jsonObject(with: o.stdout) as? [String: Any], let id = object["AccessKeyId"] as? String,
            let secret = object["SecretAccessKey"] as? String
        else {
            throw AWSError(
                "credential_process '\(command)': expected a JSON object with AccessKeyId and SecretAccessKey on its standard output",
                code: "aws.credential_process")
        }
        let credentials = Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: object["SessionToken"] as? String)
        return (credentials, RefreshingCredentials.expiration(object["Expiration"]))
    }
}

extension AWSConfiguration {
    /// Where a container on ECS or AWS Batch gets its job role's keys: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` on
    /// the agent's address, or `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    static func containerCredentialsURL(_ env: [String: String]) -> URL? {
        if let relative = env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] { return URL(string: "http://169.254.170.2" + relative) }
        return env["AWS_CONTAINER_CREDENTIALS_FULL_URI"].flatMap(URL.init(string:))
    }

    /// What the container agent wants in the Authorization header: `AWS_CONTAINER_AUTHORIZATION_TOKEN`, else the
    /// contents of `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, else nothing.
    static func containerAuthorization(_ env: [String: String]) throws -> String? {
        if let token = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"], !token.isEmpty { return token }
        guard let file = env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], !file.isEmpty else { return nil }
        guard let token = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw AWSError(
                "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(file): the container's credentials need its token", code: "aws.no_credentials")
        }
        return token.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The job role's temporary keys, from the container agent.
    static func credentials(fromContainer url: URL, authorization: String?) throws -> (credentials: Credentials, expiration: Date?) {
        var request = HTTPRequest(method: "GET", url: url)
        if let authorization { request.headers.append(("Authorization", authorization)) }
        let response = try AWSHTTP.exchange(request, body: Data())
        guard response.status == 200, let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
            let id = object["AccessKeyId"] as? String, let secret = object["SecretAccessKey"] as? String
        else {
            throw AWSError("the container's credentials endpoint \(url) answered HTTP \(response.status) without keys", code: "aws.no_credentials")
        }
        let credentials = Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: object["Token"] as? String)
        return (credentials, RefreshingCredentials.expiration(object["Expiration"]))
    }
}
