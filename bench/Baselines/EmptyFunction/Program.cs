// The least a function program does under Lambda's Runtime API: ask for an invocation, answer it, repeat. What the
// Processor's and the Aggregator's start-up is compared with (bench/results/coldstart.md).
using var http = new HttpClient
{
    BaseAddress = new Uri($"http://{Environment.GetEnvironmentVariable("AWS_LAMBDA_RUNTIME_API")}/2018-06-01/runtime/"),
    Timeout = Timeout.InfiniteTimeSpan,
};
while (true)
{
    using var next = await http.GetAsync(new Uri("invocation/next", UriKind.Relative));
    var id = next.Headers.GetValues("Lambda-Runtime-Aws-Request-Id").Single();
    using var answer = await http.PostAsync(new Uri($"invocation/{id}/response", UriKind.Relative), new StringContent("{}"));
}
