using System.Text.Json.Nodes;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.SQS.Model;
using Pipeline.Local.CloudFormation;
using Pipeline.Tests;

namespace Pipeline.Local.Tests;

public sealed class ProvisioningTests
{
    private static readonly JsonObject Template = (JsonObject)JsonNode.Parse(File.ReadAllText(RepositoryPaths.Discover().Template))!;

    private static IEnumerable<(string Id, JsonObject Properties)> ResourcesOfType(string type) =>
        Template["Resources"]!.AsObject()
            .Where(r => r.Value!["Type"]!.GetValue<string>() == type)
            .Select(r => (r.Key, r.Value!["Properties"]!.AsObject()));

    [Fact]
    public async Task Every_template_queue_exists_with_the_template_attributes()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);

        var queues = ResourcesOfType("AWS::SQS::Queue").ToList();
        Assert.NotEmpty(queues);
        foreach (var (id, properties) in queues)
        {
            var url = (await aws.Sqs.GetQueueUrlAsync(stack[id])).QueueUrl;
            var actual = (await aws.Sqs.GetQueueAttributesAsync(url, ["All"])).Attributes;
            foreach (var name in new[] { "VisibilityTimeout", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds", "DelaySeconds" })
            {
                if (properties[name] is JsonNode expected)
                {
                    Assert.Equal(expected.ToJsonString(), actual[name]);
                }
            }
            if (properties["RedrivePolicy"] is JsonObject redrive)
            {
                var policy = JsonNode.Parse(actual["RedrivePolicy"])!;
                var dlqId = redrive["deadLetterTargetArn"]!["Fn::GetAtt"]![0]!.GetValue<string>();
                var dlqUrl = (await aws.Sqs.GetQueueUrlAsync(stack[dlqId])).QueueUrl;
                var dlqArn = (await aws.Sqs.GetQueueAttributesAsync(dlqUrl, ["QueueArn"])).QueueARN;
                Assert.Equal(dlqArn, policy["deadLetterTargetArn"]!.GetValue<string>());
                Assert.Equal(redrive["maxReceiveCount"]!.GetValue<int>(), policy["maxReceiveCount"]!.GetValue<int>());
            }
        }
    }

    [Fact]
    public async Task Every_template_table_exists_with_its_keys_and_ttl()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);

        var tables = ResourcesOfType("AWS::DynamoDB::Table").ToList();
        Assert.NotEmpty(tables);
        foreach (var (id, properties) in tables)
        {
            var table = (await aws.DynamoDb.DescribeTableAsync(stack[id])).Table;
            Assert.Equal(Keys(properties["KeySchema"]), table.KeySchema.Select(k => $"{k.AttributeName}:{k.KeyType}"));
            var ttl = (await aws.DynamoDb.DescribeTimeToLiveAsync(stack[id])).TimeToLiveDescription;
            if (properties["TimeToLiveSpecification"] is JsonObject spec)
            {
                Assert.Equal("ENABLED", ttl.TimeToLiveStatus.Value);
                Assert.Equal(spec["AttributeName"]!.GetValue<string>(), ttl.AttributeName);
            }
            else
            {
                Assert.NotEqual("ENABLED", ttl.TimeToLiveStatus?.Value);
            }
        }

        static IEnumerable<string> Keys(JsonNode? schema) =>
            schema!.AsArray().Select(k => $"{k!["AttributeName"]!.GetValue<string>()}:{k["KeyType"]!.GetValue<string>()}");
    }

    [Fact]
    public async Task Every_template_bucket_and_topic_exists()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);

        var buckets = (await aws.S3.ListBucketsAsync()).Buckets.Select(b => b.BucketName).ToList();
        foreach (var (id, _) in ResourcesOfType("AWS::S3::Bucket"))
        {
            Assert.Contains(stack[id], buckets);
        }
        foreach (var (id, _) in ResourcesOfType("AWS::SNS::Topic"))
        {
            var attributes = await aws.Sns.GetTopicAttributesAsync(stack[id], CancellationToken.None);
            Assert.Equal(stack[id], attributes["TopicArn"]);
        }
    }

    [Fact]
    public async Task Provisioning_twice_changes_nothing()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var name = TestEnvironment.UniqueStackName();
        var first = await TestEnvironment.ProvisionAsync(aws, name);
        var queueUrl = (await aws.Sqs.GetQueueUrlAsync(first["EventsQueue"])).QueueUrl;
        var attributesBefore = (await aws.Sqs.GetQueueAttributesAsync(queueUrl, ["All"])).Attributes;

        var second = await TestEnvironment.ProvisionAsync(aws, name);

        Assert.All(second.Resources.Values.Where(r => r.Outcome != ProvisionOutcome.NotLocal),
            r => Assert.Equal(ProvisionOutcome.Unchanged, r.Outcome));
        Assert.Contains(first.Resources.Values, r => r.Outcome == ProvisionOutcome.Created);
        Assert.Equal(first.Resources.Keys.Order(), second.Resources.Keys.Order());
        var attributesAfter = (await aws.Sqs.GetQueueAttributesAsync(queueUrl, ["All"])).Attributes;
        Assert.Equal(attributesBefore["RedrivePolicy"], attributesAfter["RedrivePolicy"]);
        Assert.Equal(attributesBefore["LastModifiedTimestamp"], attributesAfter["LastModifiedTimestamp"]);
    }

    [Fact]
    public async Task A_changed_queue_attribute_is_updated_to_match_the_template()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var name = TestEnvironment.UniqueStackName();
        var stack = await TestEnvironment.ProvisionAsync(aws, name);
        var url = (await aws.Sqs.GetQueueUrlAsync(stack["EventsQueue"])).QueueUrl;
        await aws.Sqs.SetQueueAttributesAsync(url, new Dictionary<string, string> { ["VisibilityTimeout"] = "7" });

        var again = await TestEnvironment.ProvisionAsync(aws, name);

        Assert.Equal(ProvisionOutcome.Updated, again.Resources["EventsQueue"].Outcome);
        var visibility = (await aws.Sqs.GetQueueAttributesAsync(url, ["VisibilityTimeout"])).VisibilityTimeout;
        Assert.Equal(Template["Resources"]!["EventsQueue"]!["Properties"]!["VisibilityTimeout"]!.GetValue<int>(), visibility);
    }

    [Fact]
    public async Task The_events_table_bills_as_its_parameter_says_and_a_changed_mode_is_updated_in_place()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var name = TestEnvironment.UniqueStackName();
        var onDemand = await TestEnvironment.ProvisionAsync(aws, name);
        var before = (await aws.DynamoDb.DescribeTableAsync(onDemand["EventsTable"])).Table;

        var provisioned = await TestEnvironment.ProvisionAsync(aws, name, TestEnvironment.ProvisionedEventsTable(floor: 7));
        var again = await TestEnvironment.ProvisionAsync(aws, name, TestEnvironment.ProvisionedEventsTable(floor: 7));
        var after = (await aws.DynamoDb.DescribeTableAsync(onDemand["EventsTable"])).Table;
        var back = await TestEnvironment.ProvisionAsync(aws, name);

        Assert.Equal(BillingMode.PAY_PER_REQUEST, before.BillingModeSummary.BillingMode);
        Assert.Equal(ProvisionOutcome.Updated, provisioned.Resources["EventsTable"].Outcome);
        Assert.Equal(BillingMode.PROVISIONED, after.BillingModeSummary.BillingMode);
        Assert.Equal(7, after.ProvisionedThroughput.WriteCapacityUnits); // the floor: auto scaling starts there
        Assert.Equal(1, after.ProvisionedThroughput.ReadCapacityUnits);
        Assert.Equal(ProvisionOutcome.Unchanged, again.Resources["EventsTable"].Outcome);
        Assert.Equal(ProvisionOutcome.Updated, back.Resources["EventsTable"].Outcome);
        Assert.Equal(BillingMode.PAY_PER_REQUEST, (await aws.DynamoDb.DescribeTableAsync(onDemand["EventsTable"])).Table.BillingModeSummary.BillingMode);
        // Auto scaling exists only in AWS, in provisioned mode only; the other tables stay on demand.
        Assert.All(new[] { onDemand, provisioned }.SelectMany(s => new[] { s.Resources["EventsTableWriteScaling"], s.Resources["EventsTableWriteScalingPolicy"] }),
            r => Assert.Equal(ProvisionOutcome.NotLocal, r.Outcome));
        Assert.Equal(BillingMode.PAY_PER_REQUEST, (await aws.DynamoDb.DescribeTableAsync(provisioned["ApiKeysTable"])).Table.BillingModeSummary.BillingMode);
    }

    [Fact]
    public async Task A_topic_subscription_delivers_to_its_queue_and_is_created_once()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        const string template = """
            {
              "Resources": {
                "Inbox": { "Type": "AWS::SQS::Queue", "Properties": { "QueueName": { "Fn::Sub": "${AWS::StackName}-inbox" } } },
                "Topic": { "Type": "AWS::SNS::Topic", "Properties": { "TopicName": { "Fn::Join": ["-", [{ "Ref": "AWS::StackName" }, "topic"]] } } },
                "Link": { "Type": "AWS::SNS::Subscription", "Properties": {
                  "TopicArn": { "Ref": "Topic" }, "Protocol": "sqs", "Endpoint": { "Fn::GetAtt": ["Inbox", "Arn"] }, "RawMessageDelivery": true } }
              }
            }
            """;
        var name = TestEnvironment.UniqueStackName();
        var provisioner = new TemplateProvisioner(aws);
        var stack = await provisioner.ProvisionAsync(template, name, null, CancellationToken.None);
        var again = await provisioner.ProvisionAsync(template, name, null, CancellationToken.None);

        await aws.Sns.PublishAsync(stack["Topic"], "hello", "subject", new Dictionary<string, string>(), CancellationToken.None);

        Assert.Equal(ProvisionOutcome.Unchanged, again.Resources["Link"].Outcome);
        Assert.Single(await aws.Sns.ListSubscriptionsByTopicAsync(stack["Topic"], CancellationToken.None));
        var url = (await aws.Sqs.GetQueueUrlAsync(stack["Inbox"])).QueueUrl;
        var received = await aws.Sqs.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = url, WaitTimeSeconds = 5 });
        Assert.Equal("hello", Assert.Single(received.Messages).Body);
    }

    [Theory]
    [InlineData("{ not json", "not valid JSON")]
    [InlineData("""{ "Resources": { "Stream": { "Type": "AWS::Kinesis::Stream" } } }""", "'Stream' has type 'AWS::Kinesis::Stream'")]
    [InlineData("""
        { "Resources": { "Q": { "Type": "AWS::SQS::Queue",
          "Properties": { "RedrivePolicy": { "deadLetterTargetArn": { "Fn::GetAtt": ["Missing", "Arn"] } } } } } }
        """, "refers to 'Missing'")]
    [InlineData("""{ "Resources": { "Q": { "Type": "AWS::SQS::Queue", "Properties": { "Colour": "blue" } } } }""", "'Colour' is not supported")]
    [InlineData("""{ "Resources": { "Q": { "Type": "AWS::SQS::Queue", "Properties": { "QueueName": { "Fn::Base64": "x" } } } } }""", "'Fn::Base64' is not supported")]
    [InlineData("""{ "Parameters": { "P": { "Type": "String" } }, "Resources": {} }""", "Parameter 'P' has no Default")]
    public async Task A_bad_template_is_refused_with_a_clear_error_and_creates_nothing(string template, string expected)
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var name = TestEnvironment.UniqueStackName();

        var error = await Assert.ThrowsAsync<TemplateException>(() =>
            new TemplateProvisioner(aws).ProvisionAsync(template, name, null, CancellationToken.None));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        var queues = await aws.Sqs.ListQueuesAsync(new ListQueuesRequest { QueueNamePrefix = name });
        Assert.Empty(queues.QueueUrls ?? []);
        Assert.Empty((await aws.Sqs.ListQueuesAsync(new ListQueuesRequest { QueueNamePrefix = $"{name}-q" })).QueueUrls ?? []);
    }

    [Fact]
    public async Task A_table_that_exists_with_another_key_schema_is_reported()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var name = TestEnvironment.UniqueStackName();
        await aws.DynamoDb.CreateTableAsync(new CreateTableRequest
        {
            TableName = $"{name}-api-keys",
            KeySchema = [new KeySchemaElement("other", "HASH")],
            AttributeDefinitions = [new AttributeDefinition("other", "S")],
            BillingMode = "PAY_PER_REQUEST",
        });

        var error = await Assert.ThrowsAsync<TemplateException>(() => TestEnvironment.ProvisionAsync(aws, name));

        Assert.Contains("different key schema", error.Message, StringComparison.Ordinal);
    }
}
