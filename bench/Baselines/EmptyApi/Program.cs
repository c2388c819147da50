// The least a Minimal API does: what the Api's start-up is compared with (bench/results/coldstart.md).
var app = WebApplication.CreateSlimBuilder(args).Build();
app.MapGet("/", () => "ok");
app.Run();
