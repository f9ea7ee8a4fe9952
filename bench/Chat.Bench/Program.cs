using Chat.Bench;

return await BenchCommands.RunAsync(args);
