import Foundation
public import JSON

/// The IAM policy for whoever runs `clowdr cloud setup`, `teardown`, runs, `watch` and `sync` under one set-up
/// (`clowdr cloud policy` prints it): every action clowdr calls, on the set-up's own resources by name and ARN
/// wherever the service allows resource-level permissions. The exceptions, each `"*"` because AWS allows nothing
/// narrower for them: Batch's Describe and List calls, EC2's DescribeSubnets and DescribeSecurityGroups, and Batch
/// jobs, whose ARNs carry ids, not names (TerminateJob is limited to jobs tagged with the set-up instead).
public enum OperatorPolicy {
    /// The document for set-up `name` in `region` of `account` (`*`: any), with S3 access to `grants` (the
    /// controller uploads each run's files and reads back what the workers wrote; nothing else on S3).
    public static func document(setup name: String, region: String, account: String, grants: S3Grants) -> JSONValue {
        let batch = "arn:aws:batch:\(region):\(account)"
        let iam = "arn:aws:iam::\(account)"
        var statements: [JSONValue] = [
            [
                "Sid": "SetupRoles", "Effect": "Allow",
                "Action": [
                    "iam:GetRole", "iam:CreateRole", "iam:TagRole", "iam:DeleteRole", "iam:ListAttachedRolePolicies", "iam:DetachRolePolicy",
                    "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:ListRolePolicies", "iam:DeleteRolePolicy",
                    "iam:GetInstanceProfile", "iam:CreateInstanceProfile", "iam:TagInstanceProfile", "iam:DeleteInstanceProfile",
                    "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile",
                ],
                "Resource": [.string("\(iam):role/\(name)-*"), .string("\(iam):instance-profile/\(name)-*")],
            ],
            [
                "Sid": "AttachOnlyBatchsOwnPolicies", "Effect": "Allow", "Action": "iam:AttachRolePolicy",
                "Resource": .string("\(iam):role/\(name)-*"),
                "Condition": [
                    "ArnEquals": ["iam:PolicyARN": [.string(CloudSetup.batchServicePolicy), .string(CloudSetup.instancePolicy)]]
                ],
            ],
            [
                "Sid": "PassRolesToBatch", "Effect": "Allow", "Action": "iam:PassRole", "Resource": .string("\(iam):role/\(name)-*"),
                "Condition": ["StringEquals": ["iam:PassedToService": ["batch.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]]],
            ],
            [
                "Sid": "SetupBatch", "Effect": "Allow",
                "Action": [
                    "batch:CreateComputeEnvironment", "batch:UpdateComputeEnvironment", "batch:DeleteComputeEnvironment", "batch:CreateJobQueue",
                    "batch:UpdateJobQueue", "batch:DeleteJobQueue", "batch:RegisterJobDefinition", "batch:DeregisterJobDefinition",
                    "batch:SubmitJob", "batch:TagResource",
                ],
                "Resource": [
                    .string("\(batch):compute-environment/\(name)"), .string("\(batch):job-queue/\(name)"),
                    .string("\(batch):job-definition/\(name)-*"), .string("\(batch):job-definition/\(name)-*:*"), .string("\(batch):job/*"),
                ],
            ],
            [
                "Sid": "StopOwnJobs", "Effect": "Allow", "Action": "batch:TerminateJob", "Resource": .string("\(batch):job/*"),
                "Condition": ["StringEquals": ["aws:ResourceTag/clowdr:setup": .string(name)]],
            ],
            [
                "Sid": "CheckImages", "Effect": "Allow", "Action": "ecr:DescribeImages",
                "Resource": .string("arn:aws:ecr:\(region):\(account):repository/*"),
            ],
            [
                "Sid": "ReadOnlyWithoutResourceLevel", "Effect": "Allow",
                "Action": [
                    "batch:DescribeComputeEnvironments", "batch:DescribeJobQueues", "batch:DescribeJobDefinitions", "batch:DescribeJobs",
                    "batch:ListJobs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
                ],
                "Resource": "*",
            ],
        ]
        // S3: what the job role may use, with the same scoping (objects under the locations, listing under them).
        for case .object(var s) in grants.document()["Statement"]?.arrayValue ?? [] where s["Effect"]?.stringValue == "Allow" {
            s["Sid"] = .string("S3" + (s["Sid"]?.stringValue ?? ""))
            statements.append(.object(s))
        }
        return ["Version": "2012-10-17", "Statement": .array(statements)]
    }
}
