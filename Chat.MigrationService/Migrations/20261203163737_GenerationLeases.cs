using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Chat.MigrationService.Migrations
{
    /// <inheritdoc />
    public partial class GenerationLeases : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropCheckConstraint(
                name: "ck_chat_messages_status",
                table: "chat_messages");

            migrationBuilder.AddColumn<long>(
                name: "checkpoint_chunks",
                table: "chat_messages",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "lease_expires_at",
                table: "chat_messages",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "lease_owner",
                table: "chat_messages",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_chat_messages_streaming_lease",
                table: "chat_messages",
                column: "lease_expires_at",
                filter: "status = 'streaming'");

            migrationBuilder.AddCheckConstraint(
                name: "ck_chat_messages_status",
                table: "chat_messages",
                sql: "status IN ('completed', 'streaming', 'failed', 'cancelled', 'interrupted')");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_chat_messages_streaming_lease",
                table: "chat_messages");

            migrationBuilder.DropCheckConstraint(
                name: "ck_chat_messages_status",
                table: "chat_messages");

            migrationBuilder.DropColumn(
                name: "checkpoint_chunks",
                table: "chat_messages");

            migrationBuilder.DropColumn(
                name: "lease_expires_at",
                table: "chat_messages");

            migrationBuilder.DropColumn(
                name: "lease_owner",
                table: "chat_messages");

            migrationBuilder.AddCheckConstraint(
                name: "ck_chat_messages_status",
                table: "chat_messages",
                sql: "status IN ('completed', 'streaming', 'failed', 'cancelled')");
        }
    }
}
