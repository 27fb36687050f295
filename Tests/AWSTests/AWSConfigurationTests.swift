import AWS
import ClowdrErrors
import Foundation
import TestSupport
import Testing

@Suite("AWS settings: credentials, region and endpoints, resolved as the AWS CLI does")
struct AWSConfigurationTests {
    /// A home folder with `~/.aws/credentials` and `~/.aws/config`.
    func home(credentials: String, config: String) throws -> String {
        let home = try TestSupport.temporaryDirectory("aws-home")
        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        try credentials.write(toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8)
        try config.write(toFile: home + "/.aws/config", atomically: true, encoding: .utf8)
        return home
    }

    let credentials = """
        # keys
        [default]
        aws_access_key_id = AKIDDEFAULT
        aws_secret_access_key = secret-default

        [lab]
        aws_access_key_id=AKIDLAB
        aws_secret_access_key=secret-lab
        aws_session_token = token-lab
        """
    let config = """
        [default]
        region = eu-west-1
        [profile lab]
        region = ca-central-1
        endpoint_url = http://127.0.0.1:5000
        s3 =
          addressing_style = path
        [profile tool]
        region = us-west-2
        credential_process = printf '{"Version": 1, "AccessKeyId": "AKIDPROC", "SecretAccessKey": "secret-proc", "SessionToken": "token-proc"}'
        """

    @Test("the default profile: its keys and its region; AWS's own endpoints")
    func defaultProfile() throws {
        let home = try home(credentials: credentials, config: config)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let c = try AWSConfiguration.resolve(environment: AWSEnvironment(variables: [:], home: home))
        #expect(c.credentials == Credentials(accessKeyID: "AKIDDEFAULT", secretAccessKey: "secret-default"))
        #expect(c.region == "eu-west-1")
        #expect(c.endpoint("s3") == "https://s3.eu-west-1.amazonaws.com" && c.endpoint("batch") == "https://batch.eu-west-1.amazonaws.com")
    }

    @Test("AWS_PROFILE or --profile picks a profile ([profile NAME] in config), with its token, region and endpoint_url")
    func namedProfile() throws {
        let home = try home(credentials: credentials, config: config)
        defer { try? FileManager.default.removeItem(atPath: home) }
        for (variables, asked) in [(["AWS_PROFILE": "lab"], nil), ([:], "lab")] {
            let c = try AWSConfiguration.resolve(profile: asked, environment: AWSEnvironment(variables: variables, home: home))
            #expect(c.credentials == Credentials(accessKeyID: "AKIDLAB", secretAccessKey: "secret-lab", sessionToken: "token-lab"))
            #expect(c.region == "ca-central-1" && c.endpoint("s3") == "http://127.0.0.1:5000")
        }
        #expect {
            try AWSConfiguration.resolve(profile: "nope", environment: AWSEnvironment(variables: [:], home: home))
        } throws: { ($0 as? AWSError)?.errorCode == "aws.no_profile" && "\($0)".contains(home + "/.aws/credentials") }
    }

    @Test("the environment's keys and region win over the profile's; flags win over both; per-service endpoints")
    func environmentAndFlags() throws {
        let home = try home(credentials: credentials, config: config)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let variables = [
            "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "secret-env", "AWS_REGION": "ap-south-1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9000/", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9001",
        ]
        let c = try AWSConfiguration.resolve(environment: AWSEnvironment(variables: variables, home: home))
        #expect(c.credentials == Credentials(accessKeyID: "AKIDENV", secretAccessKey: "secret-env") && c.region == "ap-south-1")
        #expect(c.endpoint("s3") == "http://127.0.0.1:9001" && c.endpoint("batch") == "http://127.0.0.1:9000")
        let flags = try AWSConfiguration.resolve(
            region: "us-east-2", endpoint: "http://127.0.0.1:5555", environment: AWSEnvironment(variables: variables, home: home))
        #expect(flags.region == "us-east-2" && flags.endpoint("s3") == "http://127.0.0.1:5555" && flags.endpoint("iam") == "http://127.0.0.1:5555")
    }

    @Test("a profile's credential_process: its JSON's keys and token")
    func credentialProcess() throws {
        let home = try home(credentials: credentials, config: config)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let c = try AWSConfiguration.resolve(profile: "tool", environment: AWSEnvironment(variables: [:], home: home))
        #expect(c.credentials == Credentials(accessKeyID: "AKIDPROC", secretAccessKey: "secret-proc", sessionToken: "token-proc"))
        #expect(c.region == "us-west-2")
    }

    @Test("the original Clowdr's credentials.csv, as the AWS console writes it; a wrong one names the file and what was expected")
    func credentialsCSV() throws {
        let dir = try TestSupport.temporaryDirectory("aws-csv")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "\u{FEFF}User name,Password,Access key ID,Secret access key,Console login link\r\nclowdr,,AKIDCSV,secret/csv+1,https://x\r\n".write(
            toFile: dir + "/credentials.csv", atomically: true, encoding: .utf8)
        try "Access key ID,Secret access key\nAKIDNEW,secret-new\n".write(toFile: dir + "/new.csv", atomically: true, encoding: .utf8)
        try "key,secret\nA,B\n".write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        let env = AWSEnvironment(variables: ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "us-east-1"], home: dir)
        #expect(try AWSConfiguration.resolve(credentialsCSV: dir + "/credentials.csv", environment: env).credentials.accessKeyID == "AKIDCSV")
        #expect(try AWSConfiguration.credentials(csvAt: dir + "/credentials.csv").secretAccessKey == "secret/csv+1")
        #expect(try AWSConfiguration.credentials(csvAt: dir + "/new.csv") == Credentials(accessKeyID: "AKIDNEW", secretAccessKey: "secret-new"))
        #expect {
            try AWSConfiguration.credentials(csvAt: dir + "/bad.csv")
        } throws: { ($0 as? AWSError)?.isUsageError == true && "\($0)".contains(dir + "/bad.csv") && "\($0)".contains("Access key ID") }
    }

    @Test("nothing to go on: a usage error that says what to set")
    func nothing() throws {
        let home = try TestSupport.temporaryDirectory("aws-empty")
        defer { try? FileManager.default.removeItem(atPath: home) }
        #expect {
            try AWSConfiguration.resolve(environment: AWSEnvironment(variables: [:], home: home))
        } throws: { ($0 as? AWSError)?.errorCode == "aws.no_credentials" && "\($0)".contains("AWS_ACCESS_KEY_ID") }
        #expect {
            try AWSConfiguration.resolve(
                environment: AWSEnvironment(variables: ["AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "B"], home: home))
        } throws: { ($0 as? AWSError)?.errorCode == "aws.no_region" && "\($0)".contains("--region") }
    }

    @Test(
        "a container's job role (AWS Batch, ECS): its keys and token from the agent's endpoint, with the authorization token or its file; an endpoint that refuses is named"
    )
    func containerCredentials() throws {
        let home = try TestSupport.temporaryDirectory("aws-container")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let keys =
            #"{"RoleArn":"arn:aws:iam::123456789012:role/job","AccessKeyId":"ASIAJOBROLE","SecretAccessKey":"job-secret","Token":"job-token","Expiration":"2030-01-01T00:00:00Z"}"#
        let agent = try ScriptedServer([(200, keys)])
        defer { agent.stop() }
        let url = "http://127.0.0.1:\(agent.port)/v2/credentials/job"
        let c = try AWSConfiguration.resolve(
            environment: AWSEnvironment(
                variables: [
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI": url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "agent-token", "AWS_REGION": "us-east-1",
                ],
                home: home))
        #expect(c.credentials == Credentials(accessKeyID: "ASIAJOBROLE", secretAccessKey: "job-secret", sessionToken: "job-token"))
        #expect(
            agent.lastHead.hasPrefix("GET /v2/credentials/job HTTP/1.1") && agent.lastHead.contains("Authorization: agent-token"), "\(agent.lastHead)"
        )

        // The token from a file (EKS Pod Identity's form), read when the variable is not set.
        try "file-token\n".write(toFile: home + "/token", atomically: true, encoding: .utf8)
        _ = try AWSConfiguration.resolve(
            environment: AWSEnvironment(
                variables: [
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI": url, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": home + "/token", "AWS_REGION": "us-east-1",
                ],
                home: home))
        #expect(agent.lastHead.contains("Authorization: file-token\r\n"), "\(agent.lastHead)")

        let refusing = try ScriptedServer([(403, #"{"message":"not authorized"}"#)])
        defer { refusing.stop() }
        #expect {
            try AWSConfiguration.resolve(
                environment: AWSEnvironment(
                    variables: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:\(refusing.port)/creds", "AWS_REGION": "us-east-1"],
                    home: home))
        } throws: { ($0 as? AWSError)?.errorCode == "aws.no_credentials" && "\($0)".contains("127.0.0.1:\(refusing.port)/creds answered HTTP 403") }
    }

    @Test("keys that expire are fetched again when less than five minutes are left, and signed with; keys far from it are not")
    func expiringKeys() throws {
        let home = try TestSupport.temporaryDirectory("aws-expiring")
        defer { try? FileManager.default.removeItem(atPath: home) }
        func keys(_ id: String, expiring: Date) -> String {
            #"{"AccessKeyId":"\#(id)","SecretAccessKey":"s-\#(id)","Token":"t-\#(id)","Expiration":"\#(ISO8601DateFormatter().string(from: expiring))"}"#
        }
        let agent = try ScriptedServer([(200, keys("ASIAFIRST", expiring: Date() + 60)), (200, keys("ASIASECOND", expiring: Date() + 6 * 3600))])
        defer { agent.stop() }
        let c = try AWSConfiguration.resolve(
            environment: AWSEnvironment(
                variables: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:\(agent.port)/creds", "AWS_REGION": "us-east-1"], home: home))
        #expect(c.credentials.accessKeyID == "ASIAFIRST" && agent.requests == 1)
        #expect(try c.signingCredentials() == Credentials(accessKeyID: "ASIASECOND", secretAccessKey: "s-ASIASECOND", sessionToken: "t-ASIASECOND"))
        #expect(try c.signingCredentials().accessKeyID == "ASIASECOND" && agent.requests == 2, "fetched once more, not at every request")
        // Keys that never expire (the environment's) are never fetched.
        let fixed = try AWSConfiguration.resolve(
            environment: AWSEnvironment(
                variables: ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "us-east-1"], home: home))
        #expect(fixed.refreshing == nil)
        #expect(try fixed.signingCredentials().accessKeyID == "AKID")
    }
}
