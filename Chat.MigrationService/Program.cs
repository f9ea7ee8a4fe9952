using Chat.Data;
using Chat.MigrationService;

var builder = Host.CreateApplicationBuilder(args);

builder.AddServiceDefaults();
builder.AddActivitySource(MigrationWorker.ActivitySourceName);
builder.Services.AddSingleton<IDataScope>(DataScope.System);
builder.AddChatDatabase(typeof(MigrationWorker).Assembly.GetName().Name);
builder.Services.AddHostedService<MigrationWorker>();

var host = builder.Build();
await host.RunAsync();

// A failed migration must fail the resource so that nothing waiting on it starts against a half-made schema.
return Environment.ExitCode;
