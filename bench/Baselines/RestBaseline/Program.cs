using Chat.Bench.Baselines.RestBaseline;
using Microsoft.Extensions.Options;
using Npgsql;

// The REST floor for docs/BENCHMARKS.md: bare Kestrel and one primary-key SELECT through Npgsql per request.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddOptions<RestBaselineOptions>()
    .BindConfiguration(RestBaselineOptions.SectionName)
    .ValidateDataAnnotations()
    .ValidateOnStart();
builder.Services.AddSingleton(sp => NpgsqlDataSource.Create(sp.GetRequiredService<IOptions<RestBaselineOptions>>().Value.Postgres));
builder.Services.AddHostedService<ItemSeeder>();
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, BaselineJsonContext.Default));

var app = builder.Build();
app.MapGet("/health", () => TypedResults.Text("ok"));
app.MapGet("/items/{id:long}", ItemsApi.GetItemAsync);
app.Run();
